// `nacl-router trace FILE --packet SPEC`: the described packet goes through the real router.
// A Tracer builds the same Router `run` builds (stack, conntrack, NAT, compiled chains, the
// forwarding permissions of its Ifaces) on in-process links, with the chains compiled with a
// trace sink; it starts the stack but no timers, sends the packet's frame in on its Iface
// (from a host that answers the router's ARP requests) and records what the real code does,
// never deciding anything itself:
//  * the trace sink: every condition, block, log, NAT action and verdict with its file:line;
//  * hooks that wrap the real ones (chains, conntrack/NAT): which chain runs for which Iface,
//    the connection state, each rewrite of the packet (before => after);
//  * the stack's counters: the fate of the frame (forwarded, delivered, dropped and why);
//  * the frames the links carry out: the packet as it left, ICMP errors the router sent.
// So trace and router cannot disagree. Invariants: a Tracer keeps its state between traces
// (connections, neighbours) like a router does; no timers run; time stands still.

import { formatTrace, type TraceKind, type TraceSink } from '../../filters/trace.js';
import { F_DELIVERED, F_DROPPED, F_FORWARDED, F_QUEUED } from '../../stack/counters.js';
import type { StackHooks } from '../../stack/iface.js';
import { Views } from '../../stack/stack.js';
import { ICMP_CODE, ICMP_TYPE, ICMP_TYPE_NAMES } from '../../stack/wire/icmp.js';
import { formatIpv4, formatPrefix, isMulticast, PROTO_ICMP, PROTO_NAMES, PROTO_TCP, PROTO_UDP } from '../../stack/wire/ipv4.js';
import { ACCEPT, CT_ESTABLISHED, CT_NEW, DIR_ORIGINAL, Pkt, type ConnHooks, type HookFn } from '../../stack/wire/pkt.js';
import { REASON_NAMES } from '../../stack/wire/reason.js';
import * as R from '../../stack/wire/reason.js';
import { formatTcpFlags, TCP_FLAGS } from '../../stack/wire/tcp.js';
import { L4_DPORT, L4_SPORT } from '../../stack/wire/udp.js';
import { rd16 } from '../../stack/wire/view.js';
import { SEVERITIES, type Hook, type Model } from '../config/model.js';
import { createLogger } from '../log/logger.js';
import { linkKey, linkKeys, Router } from '../router.js';
import { routesOf } from '../wiring.js';
import { OfflineLinks, parseFrame, setUpConnection } from '../offline.js';
import { parsePacketSpec, type PacketSpec } from './packet-spec.js';

export { parsePacketSpec };

/** A packet's addresses, ports (ICMP echo id) and TTL. */
export interface PacketTuple { proto: number; saddr: number; daddr: number; sport: number; dport: number; ttl: number }

export interface TraceOutcome {
  lines: string[];
  verdict: 'accept' | 'drop';
  /** Iface the packet leaves on (forwarded), or is delivered to (local); null if dropped. */
  iface: string | null;
  local: boolean;
  /** Why it was dropped (the stack's drop reason name); null when not dropped. */
  reason: string | null;
  /** The packet as it left (forwarded): after NAT and the TTL decrement. */
  out: PacketTuple | null;
  /** Per rule id, how much its counter moved while the router handled the packet (and what it
   *  sent because of it): conditions that held, blocks entered, actions. */
  rules: Map<number, number>;
}

const CT_NAMES = ['new', 'established', 'related', 'invalid'];
const ICMP_NAMES: Record<number, string> = Object.fromEntries(Object.entries(ICMP_TYPE_NAMES).map(([k, v]) => [v, k]));
const COUNTED: ReadonlySet<TraceKind> = new Set(['cond-true', 'block-entered', 'verdict', 'log', 'nat']);
const views = new Views();

/** One-line description of the packet as it is now (mirrors + header bytes). */
export function describePacket(p: Pkt): string {
  const name = PROTO_NAMES[p.proto] ?? `ip proto ${p.proto}`;
  const ports = p.proto === PROTO_TCP || p.proto === PROTO_UDP;
  let s = ports ? `${name} ${formatIpv4(p.saddr)}:${p.sport} > ${formatIpv4(p.daddr)}:${p.dport}`
    : `${name} ${formatIpv4(p.saddr)} > ${formatIpv4(p.daddr)}`;
  if (p.proto === PROTO_TCP && !p.frag) s += ` [${formatTcpFlags(p.buf[p.l4 + TCP_FLAGS])}]`;
  if (p.proto === PROTO_ICMP && !p.frag) {
    const t = p.buf[p.l4 + ICMP_TYPE];
    s += ` type ${ICMP_NAMES[t] ?? t}`;
  }
  s += ` ct ${CT_NAMES[p.ctState] ?? p.ctState} ttl ${views.ip.reset(p.buf, p.l3, p.ipLen).ttl} len ${p.ipLen}`;
  if (p.frag) s += ' (non-first fragment)';
  return s;
}

function sameTuple(t: PacketTuple, p: Pkt): boolean {
  return t.saddr === p.saddr && t.daddr === p.daddr && t.sport === p.sport && t.dport === p.dport;
}

function tupleOf(p: Pkt): PacketTuple {
  return { proto: p.proto, saddr: p.saddr, daddr: p.daddr, sport: p.sport, dport: p.dport, ttl: views.ip.reset(p.buf, p.l3, p.ipLen).ttl };
}

/** Per-trace notes of what the observers saw. */
interface Seen {
  lines: string[];
  /** Last description and tuple of the traced packet (for before => after notes). */
  desc: string;
  tuple: PacketTuple;
  /** The traced packet when it was last seen by a hook on its way out (forwarded). */
  out: PacketTuple | null;
  outDesc: string;
  outIf: number;
  /** Iface whose input chain took the packet (local). */
  owner: number;
  routed: boolean;
  rules: Map<number, number>;
}

export class Tracer {
  readonly router: Router;
  private readonly model: Model;
  private readonly links: OfflineLinks;
  /** Link index and VLAN id -> Iface index. */
  private readonly ifaceOf = new Map<string, number>();
  private seen: Seen | null = null;
  private readonly parsed = new Pkt();

  constructor(model: Model, clock: () => number = () => 1_000_000) {
    this.model = model;
    this.links = new OfflineLinks(model);
    const keys = linkKeys(model);
    model.ifaces.forEach((i, ix) => this.ifaceOf.set(`${keys.indexOf(linkKey(i))}/${i.vlan ?? -1}`, ix));
    const sink: TraceSink = { event: (kind, ruleId, p, detail) => this.event(kind, ruleId, p, detail) };
    this.router = new Router(model, {
      links: this.links.routerSide, logger: createLogger({ level: 'silent', pretty: false }), clock, trace: sink,
      onLog: (kind, sev, msg) => this.seen?.lines.push(`      ${kind === 'syslog' ? `syslog(${SEVERITIES[sev] ?? sev})` : 'log'}: ${msg}`),
    });
    const stack = this.router.stack;
    stack.setHooks(this.observe(stack.hooks));
    this.links.start(this.router);
  }

  // ---- observers -----------------------------------------------------------------------------

  private event(kind: TraceKind, ruleId: number, p: Pkt, detail: string): void {
    const seen = this.seen;
    if (seen === null) return;
    seen.lines.push(formatTrace(this.model, [{ kind, ruleId, detail }])[0]!);
    if (COUNTED.has(kind) && ruleId >= 0) seen.rules.set(ruleId, (seen.rules.get(ruleId) ?? 0) + 1);
    if (kind === 'nat') {
      const after = describePacket(p);
      seen.lines.push(`      ${detail}: ${seen.desc}  =>  ${after}${sameTuple(seen.tuple, p) ? ' (no change now)' : ''}`);
    }
    if (!p.local) { seen.desc = describePacket(p); seen.tuple = tupleOf(p); }
  }

  /** The stack's hooks wrapped with recorders (same functions, same order, same results). */
  private observe(h: StackHooks): StackHooks {
    const m = this.model;
    const chain = (title: string, names: string[], fn: HookFn, before?: (p: Pkt) => void): HookFn => (p) => {
      const seen = this.seen;
      if (seen === null) return fn(p);
      if (!p.local) before?.(p);
      seen.lines.push(p.local ? `${title} [the router's own packet: ${describePacket(p)}]:` : `${title}:`);
      if (names.length === 0) seen.lines.push('  (empty chain: accept)');
      if (!p.local) { seen.desc = describePacket(p); seen.tuple = tupleOf(p); }
      const v = fn(p);
      if (!p.local) this.departing(p);
      return v;
    };
    const ifaces = h.ifaces.map((hs, ix) => {
      const i = m.ifaces[ix]!;
      const named = (hook: Hook, fn: HookFn, before?: (p: Pkt) => void) => chain(`${hook} (${i.name})`, i.chains[hook], fn, before);
      return {
        prerouting: named('prerouting', hs.prerouting),
        input: named('input', hs.input, (p) => this.local(p, ix)),
        output: named('output', hs.output),
        postrouting: named('postrouting', hs.postrouting, (p) => this.ttl(p)),
      };
    });
    const gw = m.gateway;
    const forward = chain(gw ? `forward (Gateway ${gw.name})` : 'forward (no Gateway: empty)', gw?.forward ?? [], h.forward,
      (p) => this.route(this.seen!, p));
    const conn = h.conn ? this.observeConn(h.conn) : h.conn;
    return { ifaces, forward, conn };
  }

  private observeConn(c: ConnHooks): ConnHooks {
    const note = (p: Pkt, what: string, v: number, before: string, was: PacketTuple | null): void => {
      const seen = this.seen;
      if (seen === null || p.local) return;
      const after = describePacket(p);
      if (what === 'track') {
        seen.lines.push(v !== ACCEPT ? 'conntrack: invalid packet or table full: dropped'
          : `conntrack: ${CT_NAMES[p.ctState]}${p.ctState === CT_NEW || p.ctState === CT_ESTABLISHED ? `, ${p.dir === DIR_ORIGINAL ? 'original' : 'reply'} direction` : ''}`);
      } else if (v !== ACCEPT) {
        seen.lines.push('conntrack: source NAT failed (port pool exhausted or tuple clash): dropped');
      }
      if (was !== null && !sameTuple(was, p)) seen.lines.push(`nat (${what === 'track' ? 'connection, destination' : 'connection, source'}): ${before}  =>  ${after}`);
      seen.desc = after;
      seen.tuple = tupleOf(p);
      if (what === 'finish') this.departing(p);
    };
    const out: ConnHooks = {
      track: (p) => {
        const b = this.seen ? describePacket(p) : '', was = this.seen ? tupleOf(p) : null;
        const v = c.track(p);
        note(p, 'track', v, b, was);
        return v;
      },
      local: (p) => c.local(p),
      finish: (p) => {
        const b = this.seen && !p.local ? describePacket(p) : '', was = this.seen && !p.local ? tupleOf(p) : null;
        const v = c.finish(p);
        note(p, 'finish', v, b, was);
        return v;
      },
    };
    if (c.balanced) out.balanced = (p) => c.balanced!(p);
    return out;
  }

  private departing(p: Pkt): void {
    const seen = this.seen!;
    if (p.outIf < 0) return;
    seen.out = tupleOf(p);
    seen.outDesc = describePacket(p);
    seen.outIf = p.outIf;
  }

  private local(p: Pkt, owner: number): void {
    const seen = this.seen!;
    seen.owner = owner;
    const i = this.model.ifaces[owner]!;
    const what = p.daddr === i.address ? `the address of ${i.name}` : isMulticast(p.daddr) ? 'a multicast address' : 'a broadcast address';
    seen.lines.push(`decision: local (${formatIpv4(p.daddr)} is ${what})`);
  }

  private route(seen: Seen, p: Pkt): void {
    if (seen.routed) return;
    seen.routed = true;
    seen.lines.push(`decision: forward (${formatIpv4(p.daddr)} is not an address of this router)`);
    seen.lines.push(`route: ${this.routeText(p.daddr)}`);
  }

  private ttl(p: Pkt): void {
    const seen = this.seen!;
    const ttl = views.ip.reset(p.buf, p.l3, p.ipLen).ttl;
    seen.lines.push(`ttl: ${ttl + 1} -> ${ttl}`);
  }

  /** The route entry the stack's table picks for daddr, as configured. */
  private routeText(daddr: number): string {
    const m = this.model;
    const rt = this.router.stack.routes;
    const ri = rt.lookup(daddr);
    if (ri < 0) return `none for ${formatIpv4(daddr)}`;
    const pos = rt.order[ri]!;
    const gwRoutes = m.gateway?.routes ?? [];
    if (pos < gwRoutes.length) {
      const r = gwRoutes[pos]!;
      return `${r.name ? `${r.name}: ` : ''}${formatIpv4(r.net)}/${r.prefix}${r.nexthop ? ` via ${formatIpv4(r.nexthop)}` : ''} dev ${r.iface} (${r.loc.file || m.file}:${r.loc.line})`;
    }
    const r = routesOf(m)[pos]!;
    const i = m.ifaces[r.iface]!;
    return `${formatPrefix(r.net, i.netmask ?? 0)} dev ${i.name} (connected, ${i.loc.file || m.file}:${i.loc.line})`;
  }

  // ---- one trace -------------------------------------------------------------------------

  /** Send the described packet in and report what the router did with it. */
  trace(spec: PacketSpec): TraceOutcome | { error: string } {
    const m = this.model;
    const inIdx = this.links.ingress(m, spec);
    if (typeof inIdx === 'string') return { error: inIdx };
    const built = this.links.frame(this.router, m, spec, inIdx);
    if (typeof built === 'string') return { error: built };
    const frame = built.frame;
    const inIface = m.ifaces[inIdx]!;
    const p0 = this.parsedIn(frame);
    p0.ctState = spec.ctState;
    const seen: Seen = { lines: [], desc: describePacket(p0), tuple: tupleOf(p0), out: null, outDesc: '', outIf: -1, owner: -1, routed: false, rules: new Map() };
    seen.lines.push(`packet: ${seen.desc}, in ${inIface.name}`);
    const seeded = setUpConnection(this.router, spec);
    if (seeded) seen.lines.push(seeded);
    const stack = this.router.stack;
    const c = stack.counters;
    const fate0 = Float64Array.from(c.fate);
    for (const h of this.links.hosts) h.frames.length = 0;
    this.seen = seen;
    // The frame's own fate is settled by the batch that carries it, unless it waits for ARP:
    // then it leaves (forwarded) or is dropped when the neighbour answers or does not.
    let fate: Float64Array;
    try {
      this.links.inject(inIdx, frame);
      fate = Float64Array.from(c.fate);
      const queued = c.fate[F_QUEUED] > fate0[F_QUEUED];
      if (queued) seen.lines.push('arp: next hop not resolved yet: queued, ARP request sent');
      this.links.settle();
      if (queued) {
        fate[F_FORWARDED] = c.fate[F_FORWARDED];
        fate[F_DROPPED] = c.fate[F_DROPPED];
      }
    } finally {
      this.seen = null;
    }
    const d = (f: number): number => fate[f] - fate0[f];
    const sent = this.sentFrames(seen);
    const out: TraceOutcome = { lines: seen.lines, verdict: 'drop', iface: null, local: false, reason: null, out: null, rules: seen.rules };
    if (d(F_FORWARDED) > 0) {
      const oif = m.ifaces[seen.outIf]!;
      const nh = this.nextHop(seen.out!.daddr);
      out.lines.push(...sent);
      out.lines.push(`verdict: ACCEPT (forwarded out ${oif.name}${nh ? ` via ${formatIpv4(nh)}` : ''}): ${seen.outDesc}`);
      Object.assign(out, { verdict: 'accept', iface: oif.name, out: seen.out });
    } else if (d(F_DELIVERED) > 0) {
      const owner = m.ifaces[seen.owner >= 0 ? seen.owner : inIdx]!;
      out.lines.push(...sent);
      out.lines.push(`verdict: ACCEPT (delivered locally on ${owner.name}): ${seen.desc}`);
      Object.assign(out, { verdict: 'accept', iface: owner.name, local: true });
    } else if (d(F_DROPPED) > 0) {
      const reason = c.lastFrameReason;
      if (reason === R.FORWARD_DISABLED || reason === R.NO_ROUTE) this.route(seen, this.parsedIn(frame));
      out.lines.push(...sent);
      out.lines.push(`verdict: DROP (${this.why(reason, seen, inIdx, spec)})`);
      out.reason = REASON_NAMES[reason] ?? String(reason);
    } else {
      out.lines.push(...sent);
      out.lines.push('verdict: DROP (still waiting for ARP: the next hop does not answer, e.g. it is an address of the router itself)');
      out.reason = 'arp_queued';
    }
    return out;
  }

  private parsedIn(frame: Uint8Array): Pkt {
    parseFrame(frame.slice(), this.parsed);
    return this.parsed;
  }

  private nextHop(daddr: number): number {
    const rt = this.router.stack.routes;
    const ri = rt.lookup(daddr);
    if (ri < 0) return 0;
    const nh = rt.nexthop(ri, daddr);
    return nh === daddr ? 0 : nh;
  }

  /** Lines for the IPv4 frames the router sent that are not the traced packet itself. */
  private sentFrames(seen: Seen): string[] {
    const lines: string[] = [];
    this.links.hosts.forEach((h, k) => {
      for (const f of h.frames) {
        const p = this.parsed;
        const vlan = parseFrame(f, p);
        if (vlan === null) continue;
        const t = seen.out;
        if (t !== null && p.proto === t.proto && p.saddr === t.saddr && p.daddr === t.daddr && p.sport === t.sport && p.dport === t.dport) continue;
        const ix = this.ifaceOf.get(`${k}/${vlan}`);
        const where = ix === undefined ? `link ${k}` : this.model.ifaces[ix]!.name;
        if (p.proto === PROTO_ICMP) {
          const type = f[p.l4 + ICMP_TYPE]!, code = f[p.l4 + ICMP_CODE]!;
          lines.push(`router sent: icmp ${ICMP_NAMES[type] ?? `type ${type}`} code ${code} ${formatIpv4(p.saddr)} > ${formatIpv4(p.daddr)} out ${where}`);
        } else {
          const ports = p.proto === PROTO_TCP || p.proto === PROTO_UDP;
          lines.push(`router sent: ${PROTO_NAMES[p.proto] ?? `ip proto ${p.proto}`} ${formatIpv4(p.saddr)}${ports ? `:${rd16(f, p.l4 + L4_SPORT)}` : ''} > ${formatIpv4(p.daddr)}${ports ? `:${rd16(f, p.l4 + L4_DPORT)}` : ''} out ${where}`);
        }
      }
    });
    return lines;
  }

  private why(reason: number, seen: Seen, inIdx: number, spec: PacketSpec): string {
    const m = this.model;
    const inName = m.ifaces[inIdx]!.name;
    const outName = seen.outIf >= 0 ? m.ifaces[seen.outIf]!.name : '?';
    switch (reason) {
      case R.CHAIN_PREROUTING: return `prerouting chain of ${inName}`;
      case R.CHAIN_INPUT: return `input chain of ${m.ifaces[seen.owner >= 0 ? seen.owner : inIdx]!.name}`;
      case R.CHAIN_FORWARD: return m.gateway ? 'Gateway forward chain' : 'forward chain';
      case R.CHAIN_POSTROUTING: return `postrouting chain of ${outName}`;
      case R.CONN_TRACK: return 'connection tracking: an invalid packet, or the table is full';
      case R.CONN_FINISH: return 'source NAT failed: port pool exhausted or tuple clash';
      case R.NO_ROUTE: return `no route to ${formatIpv4(spec.daddr)}; ICMP destination unreachable sent back`;
      case R.TTL_EXCEEDED: return `TTL ${spec.ttl} would expire${m.gateway?.sendTimeExceeded ?? true ? '; ICMP time exceeded sent back' : ''}`;
      case R.FORWARD_DISABLED: return m.gateway === null ? 'no Gateway: this configuration does not forward'
        : `forwarding between ${inName} and ${outName} is off: only the Ifaces Gateway routes name forward`;
      case R.DIRECTED_BROADCAST: return 'directed broadcast: not forwarded';
      case R.LOCAL_NO_HANDLER: return 'for the router, but nothing on it takes this packet';
      case R.LOCAL_FRAGMENT: return 'a fragment for the router: not reassembled';
      case R.IP_BAD_SOURCE: return 'impossible source address';
      case R.NOT_OUR_MAC: return 'sent to a group MAC address but not for the router';
      default: return REASON_NAMES[reason] ?? `reason ${reason}`;
    }
  }
}

/** Evaluate one packet through a checked model. */
export function tracePacket(model: Model, spec: PacketSpec): TraceOutcome | { error: string } {
  return new Tracer(model).trace(spec);
}
