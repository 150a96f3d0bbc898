// Described packets for the offline `trace` command and for tests: parse a one-line spec
// (`tcp 10.0.0.5:40000 > 192.168.0.10:443 in outside [syn] ct new ttl 64 len 60`) and build
// the real Ethernet/IPv4/L4 frame it describes into a Pkt (checksums right, mirrors filled the
// way the stack fills them).
// Invariants: parsePacketSpec never throws; it returns a message naming the offending word.

import { CT_ESTABLISHED, CT_INVALID, CT_NEW, CT_RELATED } from '../src/config/model.js';
import { checksum, pseudoSum } from '../stack/wire/checksum.js';
import { Pkt } from '../stack/wire/pkt.js';

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

export const TCP_FLAG_BITS: Record<string, number> = {
  fin: 0x01, syn: 0x02, rst: 0x04, psh: 0x08, ack: 0x10, urg: 0x20, ece: 0x40, cwr: 0x80,
};

export const ICMP_TYPES: Record<string, number> = {
  'echo-reply': 0, 'destination-unreachable': 3, 'redirect': 5, 'echo-request': 8,
  'time-exceeded': 11, 'parameter-problem': 12, 'timestamp-request': 13, 'timestamp-reply': 14,
};

const CT_STATES: Record<string, number> = {
  new: CT_NEW, established: CT_ESTABLISHED, related: CT_RELATED, invalid: CT_INVALID,
};

const PROTOS: Record<string, number> = { tcp: 6, udp: 17, icmp: 1 };

export function parseAddr(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return null;
  return ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
}

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
  let proto = PROTOS[protoWord];
  if (proto === undefined && protoWord !== 'ip') return `unknown protocol '${protoWord}': ${USAGE}`;
  const withPorts = proto === 6 || proto === 17;
  const endpoint = (w: string | undefined, what: string): [number, number] | string => {
    if (w === undefined) return `missing ${what} address: ${USAGE}`;
    const [a, port] = withPorts ? w.split(':') : [w, undefined];
    const addr = parseAddr(a ?? '');
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
  const spec: PacketSpec = {
    proto: proto ?? 0, saddr: src[0], daddr: dst[0], sport: src[1], dport: dst[1], inIface: null,
    tcpFlags: proto === 6 ? TCP_FLAG_BITS.syn! : 0, ctState: CT_NEW, ttl: 64, len: null,
    icmpType: 8, icmpCode: 0, id: 1, dscp: 0, ecn: 0, fragOff: 0, seq: 1000, ackSeq: 0, window: 65535,
  };
  const num = (w: string, max: number): number | string => {
    const v = parseInt0(words.shift(), max);
    return v === null ? `'${w}' needs a number 0-${max}` : v;
  };
  while (words.length > 0) {
    const w = words.shift()!;
    const lw = w.toLowerCase();
    if (lw.startsWith('[')) {
      if (proto !== 6) return `TCP flags '${w}' given for a non-TCP packet`;
      let f = 0;
      for (const name of lw.slice(1, -1).split(',').filter((x) => x !== '')) {
        const bit = TCP_FLAG_BITS[name];
        if (bit === undefined) return `unknown TCP flag '${name}' (known: ${Object.keys(TCP_FLAG_BITS).join(', ')})`;
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
        if (proto !== 1) return `'type' applies to icmp packets only`;
        const s = (words.shift() ?? '').toLowerCase();
        const t = ICMP_TYPES[s] ?? parseInt0(s, 255);
        if (t === null || t === undefined) return `unknown ICMP type '${s}' (known: ${Object.keys(ICMP_TYPES).join(', ')} or 0-255)`;
        spec.icmpType = t;
        continue;
      }
      case 'code': v = num(w, 255); if (typeof v === 'string') return v; spec.icmpCode = v; continue;
      case 'proto':
        if (protoWord !== 'ip') return `'proto' applies to 'ip' packets only`;
        v = num(w, 255); if (typeof v === 'string') return v;
        if (v === 6 || v === 17 || v === 1) return `use 'tcp', 'udp' or 'icmp' instead of 'ip ... proto ${v}'`;
        spec.proto = v; continue;
      case 'ttl': v = num(w, 255); if (typeof v === 'string') return v; spec.ttl = v; continue;
      case 'len': v = num(w, 65535); if (typeof v === 'string') return v; spec.len = v; continue;
      case 'id': v = num(w, 65535); if (typeof v === 'string') return v; spec.id = v; continue;
      case 'dscp': v = num(w, 63); if (typeof v === 'string') return v; spec.dscp = v; continue;
      case 'ecn': v = num(w, 3); if (typeof v === 'string') return v; spec.ecn = v; continue;
      case 'frag': v = num(w, 0x1fff); if (typeof v === 'string') return v; spec.fragOff = v; continue;
      case 'seq': v = num(w, 0xffffffff); if (typeof v === 'string') return v; spec.seq = v; continue;
      case 'ackseq': v = num(w, 0xffffffff); if (typeof v === 'string') return v; spec.ackSeq = v; continue;
      case 'window': v = num(w, 65535); if (typeof v === 'string') return v; spec.window = v; continue;
      default:
        return `unknown word '${w}' in packet spec: ${USAGE}`;
    }
  }
  const min = 20 + minL4(spec.proto);
  if (spec.len !== null && spec.len < min) return `len ${spec.len} is shorter than the headers (${min} bytes)`;
  return spec;
}

function minL4(proto: number): number {
  return proto === 6 ? 20 : proto === 17 ? 8 : proto === 1 ? 8 : 0;
}

const ETH = 14;

/** Build the frame into a fresh buffer and point `p` at it (as the stack would after
 *  validation). Returns p. */
export function buildPacket(spec: PacketSpec, p: Pkt = new Pkt()): Pkt {
  const ipLen = spec.len ?? 20 + (spec.fragOff > 0 ? 8 : minL4(spec.proto));
  const buf = new Uint8Array(ETH + ipLen);
  const dv = new DataView(buf.buffer);
  dv.setUint16(12, 0x0800);
  for (let i = 0; i < 6; i++) { buf[i] = 0x02; buf[6 + i] = 0x02; }
  buf[5] = 1; buf[11] = 2;
  const o3 = ETH;
  buf[o3] = 0x45;
  buf[o3 + 1] = (spec.dscp << 2) | spec.ecn;
  dv.setUint16(o3 + 2, ipLen);
  dv.setUint16(o3 + 4, spec.id);
  dv.setUint16(o3 + 6, spec.fragOff & 0x1fff);
  buf[o3 + 8] = spec.ttl;
  buf[o3 + 9] = spec.proto;
  dv.setUint32(o3 + 12, spec.saddr);
  dv.setUint32(o3 + 16, spec.daddr);
  dv.setUint16(o3 + 10, checksum(buf, o3, 20));
  const o4 = o3 + 20;
  const l4Len = ipLen - 20;
  const frag = spec.fragOff > 0;
  if (!frag) {
    if (spec.proto === 6) {
      dv.setUint16(o4, spec.sport);
      dv.setUint16(o4 + 2, spec.dport);
      dv.setUint32(o4 + 4, spec.seq);
      dv.setUint32(o4 + 8, spec.ackSeq);
      buf[o4 + 12] = 5 << 4;
      buf[o4 + 13] = spec.tcpFlags;
      dv.setUint16(o4 + 14, spec.window);
      dv.setUint16(o4 + 16, checksum(buf, o4, l4Len, pseudoSum(spec.saddr, spec.daddr, 6, l4Len)));
    } else if (spec.proto === 17) {
      dv.setUint16(o4, spec.sport);
      dv.setUint16(o4 + 2, spec.dport);
      dv.setUint16(o4 + 4, l4Len);
      const c = checksum(buf, o4, l4Len, pseudoSum(spec.saddr, spec.daddr, 17, l4Len));
      dv.setUint16(o4 + 6, c === 0 ? 0xffff : c);
    } else if (spec.proto === 1) {
      buf[o4] = spec.icmpType;
      buf[o4 + 1] = spec.icmpCode;
      dv.setUint16(o4 + 4, spec.sport);
      dv.setUint16(o4 + 6, 1);
      dv.setUint16(o4 + 2, checksum(buf, o4, l4Len));
    }
  }
  p.reset(buf, dv, 0, buf.length);
  p.l3 = o3;
  p.l4 = o4;
  p.ipLen = ipLen;
  p.l4Len = l4Len;
  p.proto = spec.proto;
  p.saddr = spec.saddr;
  p.daddr = spec.daddr;
  p.frag = frag;
  const echo = spec.proto === 1 && (spec.icmpType === 0 || spec.icmpType === 8);
  p.sport = frag ? 0 : spec.proto === 6 || spec.proto === 17 ? spec.sport : echo ? spec.sport : 0;
  p.dport = frag ? 0 : spec.proto === 6 || spec.proto === 17 ? spec.dport : echo ? spec.sport : 0;
  p.ctState = spec.ctState;
  return p;
}
