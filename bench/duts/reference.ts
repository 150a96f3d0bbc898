// The reference C TAP forwarders (bench/ref/tapfwd.c) as devices under test: one read() and
// one write() per frame between two TAPs, pinned to the DUT core; `vnet` adds IFF_VNET_HDR with
// checksum/TSO offloads. They forward at L2 and have no rules, routes or conntrack, so the
// endpoints get the common L3 picture from a pinned neighbour entry: the client resolves its
// gateway 10.10.1.1 to the MAC of the server-side TAP and the server resolves 10.10.2.1 to the
// client-side TAP, so frames cross unchanged and arrive addressed to the receiving interface
// (TTL is not decremented).
import { background, type Background } from '../../lab/proc.js';
import type { Programs } from '../programs.js';
import { onCpu, RT } from '../sched.js';
import { macOf, waitForLink, type Topology } from '../topology.js';
import type { Dut, SetupInfo, SetupOptions } from './dut.js';

export class ReferenceDut implements Dut {
  readonly id: string;
  readonly label: string;
  readonly usesRules = false;
  readonly supportsNat = false;
  private proc: Background | null = null;

  constructor(private readonly programs: Programs, readonly vnet: boolean) {
    this.id = vnet ? 'ref-vnet' : 'ref-rw';
    this.label = vnet ? 'C TAP forwarder, vnet_hdr/TSO' : 'C TAP forwarder, read/write';
  }

  async available(): Promise<string | null> {
    return null;
  }

  async setup(topo: Topology, _opts: SetupOptions): Promise<SetupInfo> {
    const [a, b] = [`${topo.prefix}a`, `${topo.prefix}b`];
    const start = process.hrtime.bigint();
    const [cmd, args] = onCpu(topo.cpus.dut, topo.cpus.sched, topo.cpus.dutNice, RT.dut, this.programs.tapfwd, [...(this.vnet ? ['-v'] : []), a, b]);
    this.proc = background(this.id, '', cmd, args);
    await this.proc.waitFor(/ready/, 5000);
    const proc = this.proc;
    await waitForLink(b, 5000, () => proc.running);
    const loadMs = Number(process.hrtime.bigint() - start) / 1e6;
    await topo.moveTo(a, topo.client);
    await topo.moveTo(b, topo.server);
    const macA = await macOf(topo.client, a);
    const macB = await macOf(topo.server, b);
    await topo.configureEndpoint('client', a, macB);
    await topo.configureEndpoint('server', b, macA);
    return { loadMs, loadWhat: 'forwarder start' };
  }

  async teardown(_topo: Topology): Promise<void> {
    await this.proc?.stop();
    this.proc = null;
  }
}
