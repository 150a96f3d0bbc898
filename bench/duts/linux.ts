// Linux kernel forwarding as a device under test: a router namespace between two veth pairs,
// with ip_forward on and the ruleset loaded as iptables (legacy xtables), nftables with one
// rule per address, or nftables with one set lookup. RPS on the router-side veths puts all
// forwarding softirq work on the DUT core; the endpoint veths steer their receive work to the
// load core. veth has no hardware queues or IRQs, so RPS is the whole steering story.
// Forwarding that overflows softirq context continues in the DUT core's ksoftirqd thread;
// while this DUT is set up that thread gets the same priority as a userspace router process
// (restored in teardown), so both kinds of DUT compete equally with other work on the core.
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { iptablesRuleset, nftRuleset } from '../gen/rulesets.js';
import { nsRun, run } from '../../lab/proc.js';
import { boostKsoftirqd, RT } from '../sched.js';
import { ROUTER_CLIENT_ADDR, ROUTER_SERVER_ADDR, setRps, type Topology } from '../topology.js';
import type { Dut, SetupInfo, SetupOptions } from './dut.js';

export type LinuxFlavor = 'iptables' | 'nft-linear' | 'nft-set';

const LABELS: Record<LinuxFlavor, string> = {
  iptables: 'Linux iptables (legacy)',
  'nft-linear': 'Linux nftables linear',
  'nft-set': 'Linux nftables sets/concatenations',
};

export class LinuxDut implements Dut {
  readonly id: string;
  readonly label: string;
  readonly usesRules = true;
  readonly supportsNat = true;

  constructor(readonly flavor: LinuxFlavor) {
    this.id = flavor;
    this.label = LABELS[flavor];
  }

  async available(): Promise<string | null> {
    const tool = this.flavor === 'iptables' ? 'iptables-legacy-restore' : 'nft';
    const r = await run('sh', ['-c', `command -v ${tool}`], { allowFail: true });
    return r.code === 0 ? null : `${tool} not installed`;
  }

  private restore: (() => Promise<void>) | null = null;

  routerNs(topo: Topology): string {
    return `${topo.prefix}r`;
  }

  async setup(topo: Topology, opts: SetupOptions): Promise<SetupInfo> {
    const r = this.routerNs(topo);
    const p = topo.prefix;
    const [c0, r0, r1, s0] = [`${p}c0`, `${p}r0`, `${p}r1`, `${p}s0`];
    this.restore = await boostKsoftirqd(topo.cpus.dut, topo.cpus.sched, topo.cpus.dutNice, RT.dut);
    await topo.addNamespace(r);
    await run('ip', ['link', 'add', c0, 'netns', topo.client, 'type', 'veth', 'peer', 'name', r0, 'netns', r]);
    await run('ip', ['link', 'add', s0, 'netns', topo.server, 'type', 'veth', 'peer', 'name', r1, 'netns', r]);
    await nsRun(r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await nsRun(r, 'ip', ['addr', 'add', `${ROUTER_CLIENT_ADDR}/24`, 'dev', r0]);
    await nsRun(r, 'ip', ['addr', 'add', `${ROUTER_SERVER_ADDR}/24`, 'dev', r1]);
    for (const ifname of [r0, r1]) {
      await nsRun(r, 'ip', ['link', 'set', ifname, 'up']);
      await setRps(r, ifname, topo.cpus.dut);
    }
    await topo.configureEndpoint('client', c0);
    await topo.configureEndpoint('server', s0);

    const dir = mkdtempSync(join(tmpdir(), 'nacl-bench-rules-'));
    try {
      const nft = this.flavor !== 'iptables';
      const file = join(dir, nft ? 'rules.nft' : 'rules.v4');
      writeFileSync(file, nft
        ? nftRuleset(opts.rules, opts.nat, r1, this.flavor === 'nft-set', opts.shape)
        : iptablesRuleset(opts.rules, opts.nat, r1, opts.shape));
      const start = process.hrtime.bigint();
      if (nft) await nsRun(r, 'nft', ['-f', file], { timeoutMs: 600_000 });
      else await nsRun(r, 'sh', ['-c', `iptables-legacy-restore < ${file}`], { timeoutMs: 600_000 });
      const loadMs = Number(process.hrtime.bigint() - start) / 1e6;
      return { loadMs, loadWhat: nft ? 'nft -f' : 'iptables-legacy-restore' };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async teardown(topo: Topology): Promise<void> {
    await this.restore?.();
    this.restore = null;
    // Deleting the namespaces removes the veths (and the router's conntrack state).
    await topo.removeNamespace(this.routerNs(topo));
    const p = topo.prefix;
    await nsRun(topo.client, 'ip', ['link', 'del', `${p}c0`], { allowFail: true });
    await nsRun(topo.server, 'ip', ['link', 'del', `${p}s0`], { allowFail: true });
  }
}
