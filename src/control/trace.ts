// Offline packet trace (`nacl-router trace FILE --packet SPEC`): build the described frame, run
// it through the hooks it would traverse with trace-compiled chains, and print each step with
// `file:line` and the final verdict.
// Path: prerouting of the ingress Iface -> local (destination is an Iface address or a
// broadcast) ? input of that Iface : Gateway.forward, TTL, longest-prefix route over the
// Gateway routes and the connected Iface networks -> postrouting of the egress Iface.
// dnat/snat run through a small offline NatActions that rewrites the packet's tuple in place,
// so later hooks and the route see the translated packet. No state, no network, no conntrack
// (ct.state is what the spec says).

import { compileRuleset, type HookSet } from '../../filters/compile.js';
import { formatAddr } from '../../filters/fields.js';
import { buildPacket, ICMP_TYPES, parsePacketSpec, TCP_FLAG_BITS, type PacketSpec } from '../../filters/packet-spec.js';
import { formatTrace, TraceRecorder } from '../../filters/trace.js';
import { SEVERITIES, type Hook, type IfaceModel, type Model } from '../config/model.js';
import type { NatActions, Pkt } from '../../stack/wire/pkt.js';
import { DROP } from '../../stack/wire/pkt.js';

export interface TraceOutcome {
  lines: string[];
  verdict: 'accept' | 'drop';
  /** Iface the packet leaves on (forwarded), or is delivered to (local); null if dropped. */
  iface: string | null;
  local: boolean;
}

const CT_NAMES = ['new', 'established', 'related', 'invalid'];
const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp' };

/** One-line description of the packet as it is now (mirrors + header bytes). */
export function describePacket(p: Pkt): string {
  const name = PROTO_NAMES[p.proto] ?? `ip proto ${p.proto}`;
  const ports = p.proto === 6 || p.proto === 17;
  let s = ports ? `${name} ${formatAddr(p.saddr)}:${p.sport} > ${formatAddr(p.daddr)}:${p.dport}`
    : `${name} ${formatAddr(p.saddr)} > ${formatAddr(p.daddr)}`;
  if (p.proto === 6 && !p.frag) {
    const f = p.buf[p.l4 + 13]!;
    s += ` [${Object.entries(TCP_FLAG_BITS).filter(([, bit]) => f & bit).map(([n]) => n).join(',')}]`;
  }
  if (p.proto === 1 && !p.frag) {
    const t = p.buf[p.l4]!;
    s += ` type ${Object.entries(ICMP_TYPES).find(([, v]) => v === t)?.[0] ?? t}`;
  }
  s += ` ct ${CT_NAMES[p.ctState] ?? p.ctState} ttl ${p.buf[p.l3 + 8]} len ${p.ipLen}`;
  if (p.frag) s += ' (non-first fragment)';
  return s;
}

/** Rewrites addresses and ports in place (and the mirrors); records what it did. */
class OfflineNat implements NatActions {
  notes: string[] = [];
  dnat(p: Pkt, addr: number, port: number): void { this.apply(p, addr, port, true); }
  snat(p: Pkt, addr: number, port: number): void { this.apply(p, addr, port, false); }
  private apply(p: Pkt, addr: number, port: number, dst: boolean): void {
    const before = describePacket(p);
    const dv = new DataView(p.buf.buffer, p.buf.byteOffset, p.buf.byteLength);
    if (addr >= 0) {
      dv.setUint32(p.l3 + (dst ? 16 : 12), addr);
      if (dst) p.daddr = addr; else p.saddr = addr;
    }
    if (port >= 0 && (p.proto === 6 || p.proto === 17) && !p.frag) {
      dv.setUint16(p.l4 + (dst ? 2 : 0), port);
      if (dst) p.dport = port; else p.sport = port;
    }
    this.notes.push(`${dst ? 'dnat' : 'snat'}: ${before}  =>  ${describePacket(p)}`);
  }
}

const maskOf = (prefix: number): number => (prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0);
const prefixOf = (mask: number): number => {
  let n = 0;
  while (n < 32 && (mask & (0x80000000 >>> n)) !== 0) n++;
  return n;
};

interface RouteChoice { iface: string; text: string; nexthop: number }

function lookupRoute(model: Model, dst: number): RouteChoice | null {
  let best: (RouteChoice & { prefix: number; cost: number }) | null = null;
  const consider = (net: number, prefix: number, cost: number, c: RouteChoice): void => {
    if (((dst & maskOf(prefix)) >>> 0) !== ((net & maskOf(prefix)) >>> 0)) return;
    if (best === null || prefix > best.prefix || (prefix === best.prefix && cost < best.cost)) best = { ...c, prefix, cost };
  };
  for (const r of model.gateway?.routes ?? []) {
    consider(r.net, r.prefix, r.cost, {
      iface: r.iface, nexthop: r.nexthop,
      text: `${r.name ? `${r.name}: ` : ''}${formatAddr(r.net)}/${r.prefix}${r.nexthop ? ` via ${formatAddr(r.nexthop)}` : ''} dev ${r.iface} (${r.loc.file || model.file}:${r.loc.line})`,
    });
  }
  for (const i of model.ifaces) {
    if (i.address === null || i.netmask === null) continue;
    const prefix = prefixOf(i.netmask);
    consider(i.address, prefix, Infinity, {
      iface: i.name, nexthop: 0, text: `${formatAddr((i.address & i.netmask) >>> 0)}/${prefix} dev ${i.name} (connected, ${i.loc.file || model.file}:${i.loc.line})`,
    });
  }
  return best;
}

function isBroadcast(i: IfaceModel, dst: number): boolean {
  if (dst === 0xffffffff) return true;
  return i.address !== null && i.netmask !== null && i.netmask !== 0xffffffff &&
    dst === ((i.address | ~i.netmask) >>> 0);
}

/** Evaluate one packet through a checked model. */
export function tracePacket(model: Model, spec: PacketSpec): TraceOutcome | { error: string } {
  let inIdx: number;
  if (spec.inIface !== null) {
    inIdx = model.ifaces.findIndex((i) => i.name === spec.inIface);
    if (inIdx < 0) {
      return { error: `unknown Iface '${spec.inIface}' (this configuration has: ${model.ifaces.map((i) => i.name).join(', ') || 'none'})` };
    }
  } else {
    inIdx = model.ifaces.findIndex((i) => i.address !== null && i.netmask !== null &&
      ((spec.saddr & i.netmask) >>> 0) === ((i.address & i.netmask) >>> 0));
    if (inIdx < 0) {
      return { error: `say which Iface the packet arrives on ('in NAME'): ${formatAddr(spec.saddr)} is on none of their networks` };
    }
  }
  const rec = new TraceRecorder();
  const nat = new OfflineNat();
  const logs: string[] = [];
  const rs = compileRuleset(model, {
    nat, trace: rec, logLimit: { rate: 1e9, burst: 1e9 },
    log: { emit: (kind, sev, msg) => { logs.push(`${kind === 'syslog' ? `syslog(${SEVERITIES[sev] ?? sev})` : 'log'}: ${msg}`); } },
  });
  const p = buildPacket(spec);
  p.inIf = inIdx;
  const lines: string[] = [];
  const inIface = model.ifaces[inIdx]!;
  lines.push(`packet: ${describePacket(p)}, in ${inIface.name}`);

  const hook = (title: string, names: string[], fn: (p: Pkt) => number): number => {
    rec.clear();
    nat.notes = [];
    logs.length = 0;
    lines.push(`${title}:`);
    const v = fn(p);
    if (names.length === 0) lines.push('  (empty chain: accept)');
    const traced = formatTrace(model, rec.events);
    // Interleave log and NAT notes after the event that produced them.
    let li = 0, ni = 0;
    rec.events.forEach((e, i) => {
      lines.push(traced[i]!);
      if (e.kind === 'log') lines.push(`      ${logs[li++] ?? ''}`);
      if (e.kind === 'nat') lines.push(`      ${nat.notes[ni++] ?? ''}`);
    });
    return v;
  };
  const chain = (set: HookSet, i: IfaceModel, h: Hook): number =>
    hook(`${h} (${i.name})`, i.chains[h], set[h]);
  const dropped = (why: string): TraceOutcome => {
    lines.push(`verdict: DROP (${why})`);
    return { lines, verdict: 'drop', iface: null, local: false };
  };

  if (chain(rs.ifaces[inIdx]!, inIface, 'prerouting') === DROP) return dropped(`prerouting chain of ${inIface.name}`);

  const owner = model.ifaces.findIndex((i) => i.address === p.daddr);
  const local = owner >= 0 || isBroadcast(inIface, p.daddr);
  if (local) {
    const idx = owner >= 0 ? owner : inIdx;
    const ifc = model.ifaces[idx]!;
    lines.push(`decision: local (${formatAddr(p.daddr)} is ${owner >= 0 ? `the address of ${ifc.name}` : 'a broadcast address'})`);
    if (chain(rs.ifaces[idx]!, ifc, 'input') === DROP) return dropped(`input chain of ${ifc.name}`);
    lines.push(`verdict: ACCEPT (delivered locally on ${ifc.name}): ${describePacket(p)}`);
    return { lines, verdict: 'accept', iface: ifc.name, local: true };
  }
  lines.push(`decision: forward (${formatAddr(p.daddr)} is not an address of this router)`);
  if (model.gateway === null) return dropped('no Gateway: this configuration does not forward');
  if (hook(`forward (Gateway ${model.gateway.name})`, model.gateway.forward, rs.forward) === DROP) {
    return dropped('Gateway forward chain');
  }
  const ttl = p.buf[p.l3 + 8]!;
  if (ttl <= 1) {
    return dropped(`TTL ${ttl} would expire${model.gateway.sendTimeExceeded ? '; ICMP time exceeded sent back' : ''}`);
  }
  const route = lookupRoute(model, p.daddr);
  if (route === null) return dropped(`no route to ${formatAddr(p.daddr)}; ICMP destination unreachable sent back`);
  lines.push(`route: ${route.text}`);
  lines.push(`ttl: ${ttl} -> ${ttl - 1}`);
  p.buf[p.l3 + 8] = ttl - 1;
  const outIdx = model.ifaces.findIndex((i) => i.name === route.iface);
  if (outIdx < 0) return dropped(`route names unknown Iface '${route.iface}'`);
  const outIface = model.ifaces[outIdx]!;
  p.outIf = outIdx;
  if (chain(rs.ifaces[outIdx]!, outIface, 'postrouting') === DROP) return dropped(`postrouting chain of ${outIface.name}`);
  const masq = outIface.masquerade && outIface.address !== null ? ` (masquerade: source becomes ${formatAddr(outIface.address)})` : '';
  lines.push(`verdict: ACCEPT (forwarded out ${outIface.name}${route.nexthop ? ` via ${formatAddr(route.nexthop)}` : ''}): ${describePacket(p)}${masq}`);
  return { lines, verdict: 'accept', iface: outIface.name, local: false };
}

export { parsePacketSpec };
