// Described packets for `nacl-router trace` and for tests: parse a one-line spec
// (`tcp 10.0.0.5:40000 > 192.168.0.10:443 in outside [syn] ct new ttl 64 len 60`) and build
// the real Ethernet/IPv4/L4 frame it describes with the wire emitters (checksums right), or a
// Pkt filled by the stack's own IPv4 input parser (stack/ipv4-in.ts parseIp).
// Invariants: parsePacketSpec never throws; it returns a message naming the offending word.

import { CT_ESTABLISHED, CT_INVALID, CT_NEW, CT_RELATED } from '../config/model.js';
import { parseIp } from '../../stack/ipv4-in.js';
import { Views } from '../../stack/stack.js';
import { ETH_HEADER_LEN, ETHERTYPE_IPV4 } from '../../stack/wire/ethernet.js';
import { emitIcmp, ICMP_ECHO_REQUEST, ICMP_HEADER_LEN, ICMP_TYPE_NAMES, isIcmpQuery } from '../../stack/wire/icmp.js';
import { emitIpv4, IP_FRAG_OFFSET_MASK, IP_MIN_HEADER_LEN, Ipv4View, parseIpv4, PROTO_ICMP, PROTO_NAMES, PROTO_TCP, PROTO_UDP } from '../../stack/wire/ipv4.js';
import { Pkt } from '../../stack/wire/pkt.js';
import { emitTcp, TCP_FLAG_NAMES, TCP_MIN_HEADER_LEN, TCP_SYN } from '../../stack/wire/tcp.js';
import { emitUdp, UDP_HEADER_LEN } from '../../stack/wire/udp.js';
import { emitEthernetVlan, VLAN_ETH_HEADER_LEN } from '../../stack/wire/vlan.js';

export interface PacketSpec {
  proto: number;
  saddr: number;
  daddr: number;
  sport: number;
  dport: number;
  /** Name of the Iface the packet arrives on (null = not given). */
  inIface: string | null;
  tcpFlags: number;
  ctState: number;
  ttl: number;
  /** IPv4 total length (null = minimum for the protocol). */
  len: number | null;
  icmpType: number;
  icmpCode: number;
  id: number;
  dscp: number;
  ecn: number;
  /** Fragment offset in 8-byte units; > 0 makes a non-first fragment. */
  fragOff: number;
  seq: number;
  ackSeq: number;
  window: number;
}

/** A spec with the defaults `parsePacketSpec` gives what the text leaves out. */
export function packetSpec(f: Partial<PacketSpec> & Pick<PacketSpec, 'proto' | 'saddr' | 'daddr'>): PacketSpec {
  return {
    sport: 0, dport: 0, inIface: null, tcpFlags: f.proto === PROTO_TCP ? TCP_SYN : 0, ctState: CT_NEW, ttl: 64, len: null,
    icmpType: ICMP_ECHO_REQUEST, icmpCode: 0, id: 1, dscp: 0, ecn: 0, fragOff: 0, seq: 1000, ackSeq: 0, window: 65535, ...f,
  };
}

const CT_STATES: Record<string, number> = {
  new: CT_NEW, established: CT_ESTABLISHED, related: CT_RELATED, invalid: CT_INVALID,
};

const PROTOS: Record<string, number> = Object.fromEntries(Object.entries(PROTO_NAMES).map(([n, name]) => [name, Number(n)]));

function parseInt0(s: string | undefined, max: number): number | null {
  if (s === undefined || !/^(\d+|0x[0-9a-f]+)$/i.test(s)) return null;
  const v = Number(s);
  return v <= max ? v : null;
}

const USAGE = 'expected e.g. "tcp 10.0.0.5:40000 > 192.168.0.10:443 in outside [syn] ct new", ' +
  '"udp A:P > B:P", "icmp A > B type echo-request", or "ip A > B proto N"';

/** Parse a packet description; returns the spec or an error message. */
export function parsePacketSpec(text: string): PacketSpec | string {
  const words = text.replace(/\[([^\]]*)\]/g, (_m, inner: string) => ` [${inner.replace(/[\s,|]+/g, ',')}] `)
    .trim().split(/\s+/).filter((w) => w !== '');
  const protoWord = (words.shift() ?? '').toLowerCase();
  const proto = PROTOS[protoWord];
  if (proto === undefined && protoWord !== 'ip') return `unknown protocol '${protoWord}': ${USAGE}`;
  const withPorts = proto === PROTO_TCP || proto === PROTO_UDP;
  const endpoint = (w: string | undefined, what: string): [number, number] | string => {
    if (w === undefined) return `missing ${what} address: ${USAGE}`;
    const [a, port] = withPorts ? w.split(':') : [w, undefined];
    const addr = parseIpv4(a ?? '');
    if (addr === null) return `bad ${what} address '${w}'${withPorts ? ' (want A.B.C.D:PORT)' : ' (want A.B.C.D)'}`;
    if (!withPorts) return [addr, 0];
    const pv = parseInt0(port, 65535);
    if (pv === null) return `bad ${what} port in '${w}' (want A.B.C.D:PORT, port 0-65535)`;
    return [addr, pv];
  };
  const src = endpoint(words.shift(), 'source');
  if (typeof src === 'string') return src;
  if (words.shift() !== '>') return `expected '>' between source and destination: ${USAGE}`;
  const dst = endpoint(words.shift(), 'destination');
  if (typeof dst === 'string') return dst;
  const spec = packetSpec({ proto: proto ?? 0, saddr: src[0], daddr: dst[0], sport: src[1], dport: dst[1] });
  const num = (w: string, max: number): number | string => {
    const v = parseInt0(words.shift(), max);
    return v === null ? `'${w}' needs a number 0-${max}` : v;
  };
  while (words.length > 0) {
    const w = words.shift()!;
    const lw = w.toLowerCase();
    if (lw.startsWith('[')) {
      if (proto !== PROTO_TCP) return `TCP flags '${w}' given for a non-TCP packet`;
      let f = 0;
      for (const name of lw.slice(1, -1).split(',').filter((x) => x !== '')) {
        const bit = TCP_FLAG_NAMES[name];
        if (bit === undefined) return `unknown TCP flag '${name}' (known: ${Object.keys(TCP_FLAG_NAMES).join(', ')})`;
        f |= bit;
      }
      spec.tcpFlags = f;
      continue;
    }
    let v: number | string;
    switch (lw) {
      case 'in': {
        const name = words.shift();
        if (name === undefined) return `'in' needs an Iface name`;
        spec.inIface = name;
        continue;
      }
      case 'ct': {
        const s = (words.shift() ?? '').toLowerCase();
        const st = CT_STATES[s];
        if (st === undefined) return `unknown ct state '${s}' (want new, established, related or invalid)`;
        spec.ctState = st;
        continue;
      }
      case 'type': {
        if (proto !== PROTO_ICMP) return `'type' applies to icmp packets only`;
        const s = (words.shift() ?? '').toLowerCase();
        const t = ICMP_TYPE_NAMES[s] ?? parseInt0(s, 255);
        if (t === null || t === undefined) return `unknown ICMP type '${s}' (known: ${Object.keys(ICMP_TYPE_NAMES).join(', ')} or 0-255)`;
        spec.icmpType = t;
        continue;
      }
      case 'code': v = num(w, 255); if (typeof v === 'string') return v; spec.icmpCode = v; continue;
      case 'proto':
        if (protoWord !== 'ip') return `'proto' applies to 'ip' packets only`;
        v = num(w, 255); if (typeof v === 'string') return v;
        if (PROTO_NAMES[v] !== undefined) return `use '${PROTO_NAMES[v]}' instead of 'ip ... proto ${v}'`;
        spec.proto = v; continue;
      case 'ttl': v = num(w, 255); if (typeof v === 'string') return v; spec.ttl = v; continue;
      case 'len': v = num(w, 65535); if (typeof v === 'string') return v; spec.len = v; continue;
      case 'id': v = num(w, 65535); if (typeof v === 'string') return v; spec.id = v; continue;
      case 'dscp': v = num(w, 63); if (typeof v === 'string') return v; spec.dscp = v; continue;
      case 'ecn': v = num(w, 3); if (typeof v === 'string') return v; spec.ecn = v; continue;
      case 'frag': v = num(w, IP_FRAG_OFFSET_MASK); if (typeof v === 'string') return v; spec.fragOff = v; continue;
      case 'seq': v = num(w, 0xffffffff); if (typeof v === 'string') return v; spec.seq = v; continue;
      case 'ackseq': v = num(w, 0xffffffff); if (typeof v === 'string') return v; spec.ackSeq = v; continue;
      case 'window': v = num(w, 65535); if (typeof v === 'string') return v; spec.window = v; continue;
      default:
        return `unknown word '${w}' in packet spec: ${USAGE}`;
    }
  }
  const min = IP_MIN_HEADER_LEN + minL4(spec.proto);
  if (spec.len !== null && spec.len < min) return `len ${spec.len} is shorter than the headers (${min} bytes)`;
  return spec;
}

function minL4(proto: number): number {
  return proto === PROTO_TCP ? TCP_MIN_HEADER_LEN : proto === PROTO_UDP ? UDP_HEADER_LEN : proto === PROTO_ICMP ? ICMP_HEADER_LEN : 0;
}

/** IPv4 total length of the described packet. */
export function specLength(spec: PacketSpec): number {
  return spec.len ?? IP_MIN_HEADER_LEN + (spec.fragOff > 0 ? 8 : minL4(spec.proto));
}

/** Write the described IPv4 datagram at buf[off, off + specLength(spec)) (zeroed bytes);
 *  `data` goes after the L4 header (an ICMP error's quote). */
export function writeDatagram(buf: Uint8Array, off: number, spec: PacketSpec, data?: Uint8Array): number {
  const ipLen = specLength(spec);
  const o4 = off + IP_MIN_HEADER_LEN;
  const l4Len = ipLen - IP_MIN_HEADER_LEN;
  if (data) buf.set(data.subarray(0, Math.max(0, l4Len - minL4(spec.proto))), o4 + minL4(spec.proto));
  if (spec.fragOff === 0) {
    if (spec.proto === PROTO_TCP) {
      emitTcp(buf, o4, spec.saddr, spec.daddr, spec.sport, spec.dport, spec.seq, spec.ackSeq, spec.tcpFlags, spec.window,
        l4Len - TCP_MIN_HEADER_LEN);
    } else if (spec.proto === PROTO_UDP) {
      emitUdp(buf, o4, spec.saddr, spec.daddr, spec.sport, spec.dport, l4Len - UDP_HEADER_LEN);
    } else if (spec.proto === PROTO_ICMP) {
      // Echo: identifier = the source "port" (0 unless given), sequence 1.
      const rest = isIcmpQuery(spec.icmpType) ? ((spec.sport << 16) | 1) >>> 0 : 0;
      emitIcmp(buf, o4, spec.icmpType, spec.icmpCode, rest, l4Len - ICMP_HEADER_LEN);
    }
  }
  emitIpv4(buf, off, ipLen, spec.id, spec.ttl, spec.proto, spec.saddr, spec.daddr);
  const ip = ip4.reset(buf, off, ipLen);
  ip.tos = (spec.dscp << 2) | spec.ecn;
  ip.fragField = spec.fragOff & IP_FRAG_OFFSET_MASK;
  ip.fillChecksum();
  return ipLen;
}

const ip4 = new Ipv4View();
const HOST_MAC = Uint8Array.of(0x02, 0, 0, 0, 0, 0x02);
const ROUTER_MAC = Uint8Array.of(0x02, 0, 0, 0, 0, 0x01);

/** Write the Ethernet frame carrying the described datagram (802.1Q-tagged when vlan >= 0)
 *  at buf[off]; returns its length. */
export function writeFrame(buf: Uint8Array, off: number, spec: PacketSpec, dst: Uint8Array, src: Uint8Array, vlan: number,
  data?: Uint8Array): number {
  const ehl = emitEthernetVlan(buf, off, dst, 0, src, 0, vlan, ETHERTYPE_IPV4);
  return ehl + writeDatagram(buf, off + ehl, spec, data);
}

/** The Ethernet frame carrying the described datagram, in a buffer of its own. */
export function buildFrame(spec: PacketSpec, dst: Uint8Array = ROUTER_MAC, src: Uint8Array = HOST_MAC, vlan = -1,
  data?: Uint8Array): Uint8Array {
  const frame = new Uint8Array(VLAN_ETH_HEADER_LEN + specLength(spec));
  return frame.subarray(0, writeFrame(frame, 0, spec, dst, src, vlan, data));
}

const views = new Views();

/** The described packet in a Pkt, as the stack's IPv4 input fills it (ct.state from the spec;
 *  the spec must describe a packet the stack accepts: lengths and checksums are right). */
export function buildPacket(spec: PacketSpec, p: Pkt = new Pkt()): Pkt {
  const frame = buildFrame(spec);
  const buf = frame.slice();
  p.reset(buf, new DataView(buf.buffer), 0, buf.length);
  const r = parseIp(p, buf, ETH_HEADER_LEN, buf.length - ETH_HEADER_LEN, views);
  if (r !== 0) throw new Error(`packet spec does not make a valid datagram (reason ${r})`);
  p.ctState = spec.ctState;
  return p;
}
