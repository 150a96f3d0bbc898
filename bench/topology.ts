// The benchmark topology, built by the harness as root:
//
//   client ns (10.10.1.2/24) ── DUT ── server ns (10.10.2.2/24)
//              router side 10.10.1.1      router side 10.10.2.1
//
// Every device under test presents the same L3 picture to the endpoints: the client reaches
// 10.10.2.0/24 via 10.10.1.1 and the server reaches 10.10.1.0/24 via 10.10.2.1. Names carry a
// per-process prefix so concurrent runs do not collide, and destroy() removes everything the
// topology made. CPU steering: endpoint interfaces hand their receive work to the load core
// (RPS); each DUT confines its forwarding work to the DUT core.
import { availableParallelism } from 'node:os';
import { nsRun, run } from '../lab/proc.js';
import type { SchedPolicy } from './sched.js';

export const CLIENT_ADDR = '10.10.1.2';
export const SERVER_ADDR = '10.10.2.2';
export const ROUTER_CLIENT_ADDR = '10.10.1.1';
export const ROUTER_SERVER_ADDR = '10.10.2.1';

export interface Cpus {
  /** Runs generators, receivers, iperf3, ping and the endpoint kernel stacks. */
  load: number;
  /** Runs the device under test (router process, or Linux forwarding softirqs). */
  dut: number;
  /** Nice value for load-side programs. */
  loadNice: number;
  /** Nice value for the DUT's process (or the DUT core's ksoftirqd thread, for Linux). */
  dutNice: number;
  /** How load and DUT processes are raised above other work on the machine (see sched.ts). */
  sched: SchedPolicy;
}

export function defaultCpus(sched: SchedPolicy = 'rt'): Cpus {
  const n = availableParallelism();
  return { load: 0, dut: n >= 2 ? 1 : 0, loadNice: -10, dutNice: -20, sched };
}

export function cpuMask(cpu: number): string {
  return (1 << cpu).toString(16);
}

export class Topology {
  readonly client: string;
  readonly server: string;
  private extra = new Set<string>();

  constructor(readonly prefix: string, readonly cpus: Cpus) {
    this.client = `${prefix}c`;
    this.server = `${prefix}s`;
  }

  static forProcess(cpus: Cpus): Topology {
    return new Topology(`nb${process.pid % 1_000_000}`, cpus);
  }

  async create(): Promise<void> {
    await this.destroy();
    for (const ns of [this.client, this.server]) await this.addNamespace(ns);
  }

  /** A namespace with lo up and IPv6 off (no router solicitations or DAD noise). */
  async addNamespace(ns: string): Promise<void> {
    await run('ip', ['netns', 'add', ns]);
    if (ns !== this.client && ns !== this.server) this.extra.add(ns);
    await nsRun(ns, 'ip', ['link', 'set', 'lo', 'up']);
    await nsRun(ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  }

  async removeNamespace(ns: string): Promise<void> {
    await run('ip', ['netns', 'del', ns], { allowFail: true });
    this.extra.delete(ns);
  }

  async destroy(): Promise<void> {
    for (const ns of [...this.extra, this.client, this.server]) await this.removeNamespace(ns);
  }

  /** Moves root-namespace interface `ifname` into `ns`. */
  async moveTo(ifname: string, ns: string): Promise<void> {
    await run('ip', ['link', 'set', ifname, 'netns', ns]);
  }

  /**
   * Configures an endpoint interface already in its namespace: address, up, route to the other
   * subnet via the router-side address, receive processing steered to the load core.
   * `gatewayMac` pins the gateway's neighbour entry (for the L2 reference forwarders).
   */
  async configureEndpoint(side: 'client' | 'server', ifname: string, gatewayMac?: string): Promise<void> {
    const ns = side === 'client' ? this.client : this.server;
    const addr = side === 'client' ? CLIENT_ADDR : SERVER_ADDR;
    const gw = side === 'client' ? ROUTER_CLIENT_ADDR : ROUTER_SERVER_ADDR;
    const other = side === 'client' ? '10.10.2.0/24' : '10.10.1.0/24';
    await nsRun(ns, 'ip', ['addr', 'add', `${addr}/24`, 'dev', ifname]);
    await nsRun(ns, 'ip', ['link', 'set', ifname, 'up']);
    if (gatewayMac) await nsRun(ns, 'ip', ['neigh', 'replace', gw, 'lladdr', gatewayMac, 'dev', ifname, 'nud', 'permanent']);
    await nsRun(ns, 'ip', ['route', 'replace', other, 'via', gw, 'dev', ifname]);
    await setRps(ns, ifname, this.cpus.load);
  }
}

/** Steers receive processing of every rx queue of `ifname` (in `ns`) to `cpu`. */
export async function setRps(ns: string, ifname: string, cpu: number): Promise<void> {
  await nsRun(ns, 'sh', ['-c', `for q in /sys/class/net/${ifname}/queues/rx-*; do echo ${cpuMask(cpu)} > $q/rps_cpus; done`]);
}

export async function macOf(ns: string, ifname: string): Promise<string> {
  const r = await nsRun(ns, 'cat', [`/sys/class/net/${ifname}/address`]);
  return r.stdout.trim();
}

/** Waits until `ifname` exists in the root namespace. */
export async function waitForLink(ifname: string, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await run('ip', ['link', 'show', ifname], { allowFail: true });
    if (r.code === 0) return;
    if (!alive()) throw new Error(`the device under test exited before creating ${ifname}`);
    if (Date.now() > deadline) throw new Error(`${ifname} did not appear within ${timeoutMs} ms`);
    await new Promise((r2) => setTimeout(r2, 50));
  }
}
