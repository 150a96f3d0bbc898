// The running router: wires a build of the configuration (src/control/build.ts: the wiring
// parts of the Model, the compiled-rules plan, per-rule facts) to links, the per-Iface stack,
// conntrack/NAT and the compiled chains, and drives the batched loop. A reload's build is made
// off the packet thread (src/control/reload.ts); install() swaps it in with one synchronous call
// between two batches and reports how long that took; connection and NAT state survive, and so
// do the counters of rules that did not change. Nothing here is on the per-packet path except
// the log sink (rate-limited before it is reached).
import type { Link } from '../drivers/link.js';
import type { Model, IfaceModel } from './config/model.js';
import { buildOf, type Build, type RouterConfig } from './control/build.js';
import { RuleIndex } from './config/rule-index.js';
import type { ShowTemplate } from './control/show.js';
import { SEVERITIES } from './config/model.js';
import { Stack } from '../stack/stack.js';
import type { StackHooks } from '../stack/iface.js';
import { Conntrack } from '../stack/conntrack.js';
import { NatEngine } from '../stack/nat.js';
import { natConfigFromModel, balancersFromModel, routesOf } from './wiring.js';
import { instantiateRuleset, type Ruleset } from '../filters/compile.js';
import type { TraceSink } from '../filters/trace.js';
import type { LogSink } from '../stack/wire/pkt.js';
import { formatSyslog } from './log/syslog.js';
import { DhcpClient, DHCP_CLIENT_PORT } from '../stack/dhcp.js';
import type { Logger } from './log/logger.js';
import { hostname } from 'node:os';
import { formatIpv4 } from '../stack/wire/ipv4.js';

export type LinkSpec = { kind: 'tap'; name: string; vnetHdr?: boolean } | { kind: 'packet'; ifname: string; ownMac?: boolean } | { kind: 'link'; link: Link };

/** What install() swaps: everything that belongs to one build. */
export interface Installed {
  gen: number;
  config: RouterConfig;
  ruleset: Ruleset;
  rules: RuleIndex;
  show: ShowTemplate;
}

/** Which physical link each Iface uses: its `index` (a number or a MAC string). */
export function linkKey(i: IfaceModel): string {
  return typeof i.index === 'number' ? String(i.index) : i.index.mac;
}

/** The distinct link keys of a Model, in order: numeric indexes ascending, then MACs. */
export function linkKeys(m: Pick<Model, 'ifaces'>): string[] {
  const keys = [...new Set(m.ifaces.map(linkKey))];
  const num = keys.filter((k) => /^\d+$/.test(k)).sort((a, b) => Number(a) - Number(b));
  return [...num, ...keys.filter((k) => !/^\d+$/.test(k))];
}

/** True when any packet would meet a chain, NAT or the balancer: conntrack is needed. */
function needsConntrack(m: RouterConfig): boolean {
  if (m.gateway && m.gateway.forward.length > 0) return true;
  if (m.loadBalancers.length > 0) return true;
  return m.ifaces.some((i) => i.masquerade || Object.values(i.chains).some((c) => c.length > 0));
}

export interface RouterOptions {
  links: Link[];
  logger: Logger;
  clock?: () => number;
  /** Compile the chains with this trace sink (`trace`: every condition, block and action). */
  trace?: TraceSink;
  /** Also told every log()/syslog() message the rules produce. */
  onLog?: LogSink['emit'];
}

export class Router {
  /** The configuration in force (wiring parts; the rules are in `ruleset` and `rules`). */
  model: RouterConfig;
  readonly stack: Stack;
  readonly ct: Conntrack;
  readonly nat: NatEngine;
  ruleset: Ruleset;
  /** Per-rule location and text, by rule id. */
  rules: RuleIndex;
  /** The `show` layout of the configuration in force. */
  show: ShowTemplate;
  gen: number;
  /** The links, in link order (linkKeys). */
  links: Link[];
  /** While true (the JIT warm-up), log()/syslog() actions and conntrack warnings go nowhere. */
  silent = false;
  private readonly log: Logger;
  private loop: NodeJS.Timeout | null = null;
  private timers: NodeJS.Timeout[] = [];
  private emitting = false;
  private readonly conntrackOn: boolean;
  private readonly sink: LogSink;
  private readonly syslogHeader = { hostname: hostname(), appName: 'nacl-router', procId: process.pid };
  private fallbackTimers: NodeJS.Timeout[] = [];
  private dhcp: DhcpClient[] = [];
  /** Addresses learnt at run time (DHCP), by Iface. */
  private addresses: number[] = [];
  private readonly trace: TraceSink | undefined;
  private readonly onLog: LogSink['emit'] | undefined;

  /** From a Model (compiled here, in this thread) or from a build made elsewhere. */
  constructor(src: Model | Build, opts: RouterOptions) {
    const build = 'plan' in src ? src : buildOf(src, 1, { trace: opts.trace !== undefined });
    const model = build.config;
    this.model = model;
    this.gen = build.gen;
    this.rules = new RuleIndex(build.rules);
    this.show = build.show;
    this.links = opts.links;
    this.log = opts.logger;
    const keys = linkKeys(model);
    if (keys.length !== this.links.length) throw new Error(`router: ${keys.length} links needed, ${this.links.length} given`);
    const start = Date.now();
    this.ct = new Conntrack(this.ctConfig(model), { nowMs: start, log: (msg) => { if (!this.silent) this.log.warn({ conntrack: true }, msg); } });
    this.nat = new NatEngine(this.ct, natConfigFromModel(model), balancersFromModel(model));
    this.conntrackOn = needsConntrack(model);
    this.sink = { emit: (kind, severity, message, ruleId) => this.emitLog(kind, severity, message, ruleId) };
    this.trace = opts.trace;
    this.onLog = opts.onLog;
    this.ruleset = instantiateRuleset(build.plan, { nat: this.nat, log: this.sink, trace: this.trace });
    this.stack = new Stack({
      ifaces: model.ifaces.map((i) => {
        const link = this.links[keys.indexOf(linkKey(i))];
        const staticAddr = i.config === 'static' && i.address !== null;
        return {
          name: i.name,
          link: keys.indexOf(linkKey(i)),
          mac: link.mac,
          address: staticAddr ? i.address! : 0,
          netmask: staticAddr ? i.netmask : null,
          vlan: i.vlan,
          gateway: i.gateway,
          sendQueueLimit: i.sendQueueLimit,
          bufferLimit: i.bufferLimit,
        };
      }),
      routes: routesOf(model),
      sendTimeExceeded: model.gateway?.sendTimeExceeded ?? true,
      hooks: this.hooks(this.ruleset),
      clock: opts.clock,
    }, this.links);
    this.applyForwarding(model);
  }

  private ctConfig(m: RouterConfig) {
    return { limit: m.conntrack.limit, reserve: m.conntrack.reserve, statefulTcp: m.conntrack.statefulTcp, timeout: m.conntrack.timeout };
  }

  private hooks(rs: Ruleset): StackHooks {
    return { ifaces: rs.ifaces, forward: rs.forward, conn: this.conntrackOn ? this.nat : null };
  }

  /** Transit forwarding happens only between Ifaces that Gateway routes name (as in the
   *  reference), plus the connections the load balancer made (NatEngine.balanced). The
   *  connected routes the stack also gets (for the router's own traffic and the balancer) must
   *  not widen that: when they would, the other Ifaces do not forward. */
  private applyForwarding(m: RouterConfig): void {
    const named = new Set((m.gateway?.routes ?? []).map((r) => r.iface));
    const widened = m.ifaces.some((i) => !named.has(i.name) && i.address !== null && i.netmask !== null);
    const guard = widened || m.loadBalancers.length > 0;
    m.ifaces.forEach((i, ix) => this.stack.setForwarding(ix, !guard || named.has(i.name)));
  }

  /** Move the router onto other links (same count and order) and forget every packet it has
   *  seen: the JIT warm-up runs the router on in-process links first, then hands it the real
   *  ones. Call before start(). */
  attachLinks(links: Link[]): void {
    if (links.length !== this.links.length) throw new Error(`router: ${this.links.length} links needed, ${links.length} given`);
    this.stack.attachLinks(links);
    this.links = links;
    this.reset();
  }

  /** Back to the state of a new router, rules and links kept: no connections, NAT bindings,
   *  neighbours or queued datagrams; every counter (stack, conntrack, NAT, balancers, rules) and
   *  log rate limit at zero. */
  reset(): void {
    this.stack.reset();
    this.ct.clear();
    this.nat.clear();
    this.ruleset.counters.packets.fill(0);
    this.ruleset.counters.bytes.fill(0);
    this.ruleset.logger.reset();
  }

  start(): void {
    this.stack.start();
    this.loop = setInterval(() => this.tick(), 100);
    this.startTimers();
    this.startDhcp();
  }

  /** DHCP clients for `config: dhcp` / `dhcp-with-fallback` Ifaces, through our own stack. A
   *  lease sets the Iface address (and its default gateway); masquerade follows the new address.
   *  dhcp-with-fallback applies the static values after 10 s without a lease. */
  private startDhcp(): void {
    this.model.ifaces.forEach((i, ix) => {
      if (i.config !== 'dhcp' && i.config !== 'dhcp-with-fallback') return;
      const client = new DhcpClient(this.stack, ix, this.stack.ifaces[ix].mac, (l) => {
        this.setIfaceAddress(ix, l.address, l.netmask, l.router || (i.gateway ?? 0));
        this.log.info({ iface: i.name, address: formatIpv4(l.address), netmask: formatIpv4(l.netmask), router: formatIpv4(l.router), server: formatIpv4(l.server), leaseS: l.leaseS }, 'DHCP lease');
      });
      this.dhcp.push(client);
      if (i.config === 'dhcp-with-fallback' && i.address !== null && i.netmask !== null) {
        this.fallbackTimers.push(setTimeout(() => {
          if (client.lease) return;
          client.stop();
          this.setIfaceAddress(ix, i.address!, i.netmask!, i.gateway ?? 0);
          this.log.info({ iface: i.name, address: formatIpv4(i.address!) }, 'no DHCP lease within 10 s: fallback address applied');
        }, 10_000));
      }
    });
    if (this.dhcp.length === 0) return;
    this.stack.bindUdp(DHCP_CLIENT_PORT, (buf, off, len, _saddr, _sport, iface) => {
      const now = Date.now();
      for (const c of this.dhcp) c.receive(buf, off, len, iface, now);
    });
    for (const c of this.dhcp) c.tick(Date.now());
  }

  private setIfaceAddress(ix: number, address: number, netmask: number, gateway: number): void {
    this.stack.setAddress(ix, address, netmask, gateway);
    this.addresses[ix] = address;
    this.nat.configure(this.natConfig(this.model), balancersFromModel(this.model, this.nat.activeBalancers()));
  }

  /** NAT's view of the Iface addresses: static ones from the Model, leased ones as they come. */
  private natConfig(m: RouterConfig) {
    const cfg = natConfigFromModel(m);
    cfg.ifaces.forEach((f, ix) => { if (this.addresses[ix] !== undefined) f.address = this.addresses[ix]; });
    return cfg;
  }

  /** What the loop runs every 100 ms: DHCP, conntrack expiry, ARP timers, log summaries.
   *  `now` (ms) defaults to the clock; the warm-up runs it on a clock of its own. */
  tick(now = Date.now()): void {
    for (const c of this.dhcp) c.tick(now);
    this.ct.tick(now);
    this.stack.tick(now);
    this.ruleset.logger.flush();
  }

  private startTimers(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = this.model.timers.map((tm) => setInterval(() => {
      const data: Record<string, unknown> = {};
      for (const d of tm.data) {
        if (d === 'timestamp') data.timestamp = new Date().toISOString();
        else if (d === 'stats') data.stats = this.counters().stack;
        else if (d === 'memory') data.memory = process.memoryUsage();
        else if (d === 'cpu') data.cpu = process.cpuUsage();
        else if (d === 'lb') data.lb = this.model.loadBalancers.length ? this.nat.lbStats() : 'no Load_balancer';
        else if (d === 'timers') data.timers = this.model.timers.map((x) => ({ name: x.name, interval: x.interval }));
        else if (d === 'stack-sampling') data['stack-sampling'] = 'not supported';
      }
      this.log.info({ timer: tm.name, ...data }, `timer ${tm.name}`);
    }, tm.interval * 1000));
  }

  /** log()/syslog() actions: to the Syslog server through our own stack, else our log. */
  private emitLog(kind: 'log' | 'syslog', severity: number, message: string, ruleId: number): void {
    if (this.silent) return;
    this.onLog?.(kind, severity, message, ruleId);
    const where = ruleId >= 0 && ruleId < this.rules.count ? this.rules.where(ruleId) : undefined;
    const sl = this.model.syslog;
    if (sl && !this.emitting) {
      this.emitting = true;
      try {
        const bytes = formatSyslog(this.syslogHeader, severity, kind, message);
        this.stack.sendUdp(sl.address, 514, sl.port, bytes);
      } finally {
        this.emitting = false;
      }
      this.log.debug({ rule: where, severity: SEVERITIES[severity] }, message);
    } else {
      this.log.info({ rule: where, severity: SEVERITIES[severity], action: kind }, message);
    }
  }

  /** The build in force, as install() takes it back (a rollback). */
  installed(): Installed {
    return { gen: this.gen, config: this.model, ruleset: this.ruleset, rules: this.rules, show: this.show };
  }

  /** Instantiates a build's rules for this router (NAT and log sink of this thread). */
  prepare(b: Build): Installed {
    const why = sameTopology(this.model, b.config);
    if (why) throw new Error(`reload refused: ${why} (restart the router to change interfaces or routes)`);
    return { gen: b.gen, config: b.config, ruleset: instantiateRuleset(b.plan, { nat: this.nat, log: this.sink, trace: this.trace }), rules: new RuleIndex(b.rules), show: b.show };
  }

  /** Swaps in a prepared build: between two batches, in one synchronous step. `carry` lists
   *  (old rule id, new rule id, count) runs whose counters move to the new rules. */
  install(next: Installed, carry?: Int32Array): void {
    const why = sameTopology(this.model, next.config);
    if (why) throw new Error(`reload refused: ${why} (restart the router to change interfaces or routes)`);
    const from = this.ruleset.counters;
    const to = next.ruleset.counters;
    if (carry && from !== to) {
      for (let k = 0; k + 2 < carry.length; k += 3) {
        const a = carry[k]!, b = carry[k + 1]!, n = carry[k + 2]!;
        to.packets.set(from.packets.subarray(a, a + n), b);
        to.bytes.set(from.bytes.subarray(a, a + n), b);
      }
    }
    const m = next.config;
    this.ct.configure(this.ctConfig(m));
    this.nat.configure(this.natConfig(m), balancersFromModel(m, this.nat.activeBalancers()));
    this.model = m;
    this.stack.setHooks(this.hooks(next.ruleset));
    this.applyForwarding(m);
    this.ruleset = next.ruleset;
    this.rules = next.rules;
    this.show = next.show;
    this.gen = next.gen;
    this.startTimers();
  }

  counters() {
    const rules: Array<{ rule: string; text: string; packets: number; bytes: number }> = [];
    const c = this.ruleset.counters;
    for (let id = 0; id < this.rules.count; id++) {
      if (c.packets[id]! > 0 && this.rules.isRule(id)) rules.push({ rule: this.rules.where(id), text: this.rules.text(id), packets: c.packets[id]!, bytes: c.bytes[id]! });
    }
    const links = this.links.map((l) => ({ name: l.name, ...statsOf(l) }));
    return { stack: this.stack.snapshot(), links, conntrack: this.ct.stats(), nat: this.nat.stats(), loadBalancers: this.nat.lbStats(), rules };
  }

  stop(): void {
    if (this.loop) clearInterval(this.loop);
    this.loop = null;
    for (const t of this.timers) clearInterval(t);
    for (const t of this.fallbackTimers) clearTimeout(t);
    for (const c of this.dhcp) c.stop();
    this.timers = [];
    for (const l of this.links) {
      try { l.close(); } catch { /* already closed */ }
    }
  }
}

function statsOf(l: Link) {
  const s = l.stats;
  return { rxPackets: s.rxPackets, rxBytes: s.rxBytes, txPackets: s.txPackets, txBytes: s.txBytes, txDropped: s.txDropped, rxErrors: s.rxErrors };
}

function sameTopology(a: RouterConfig, b: RouterConfig): string | null {
  const key = (m: RouterConfig) => JSON.stringify(m.ifaces.map((i) => [i.name, i.index, i.vlan, i.address, i.netmask, i.config]));
  if (key(a) !== key(b)) return 'interfaces changed';
  const rk = (m: RouterConfig) => JSON.stringify((m.gateway?.routes ?? []).map((r) => [r.net, r.prefix, r.nexthop, r.iface]));
  if (rk(a) !== rk(b)) return 'routes changed';
  return null;
}

