// Test helpers for conntrack/NAT/LB: crafted Ethernet+IPv4 frames with valid checksums, a Pkt
// filled the way the stack fills it, an independent checksum verifier, a classic pcap writer
// and tshark validation of the written file.

import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checksum, pseudoSum, sum16 } from '../../stack/wire/checksum.js';
import { emitEthernet, ETH_HEADER_LEN, ETHERTYPE_IPV4 } from '../../stack/wire/ethernet.js';
import { ICMP_CSUM, ICMP_HEADER_LEN, ICMP_ID, ICMP_SEQ, ICMP_TYPE, ICMP_CODE, isIcmpError, isIcmpQuery } from '../../stack/wire/icmp.js';
import { emitIpv4, IP_FLAG_MF, IP_FRAG_OFFSET_MASK, IP_MIN_HEADER_LEN, Ipv4View, parseIpv4, PROTO_ICMP, PROTO_TCP, PROTO_UDP } from '../../stack/wire/ipv4.js';
import { Pkt } from '../../stack/wire/pkt.js';
import { TCP_ACK_NUM, TCP_CSUM, TCP_DOFF, TCP_FLAGS, TCP_MIN_HEADER_LEN, TCP_SEQ, TCP_WINDOW } from '../../stack/wire/tcp.js';
import { L4_DPORT, L4_SPORT, UDP_CSUM, UDP_HEADER_LEN, UDP_LEN } from '../../stack/wire/udp.js';
import { rd16, wr16, wr32 } from '../../stack/wire/view.js';

export { PROTO_TCP as TCP, PROTO_UDP as UDP, PROTO_ICMP as ICMP } from '../../stack/wire/ipv4.js';
export { TCP_FIN as FIN, TCP_SYN as SYN, TCP_RST as RST, TCP_PSH as PSH, TCP_ACK as ACK } from '../../stack/wire/tcp.js';
export { formatIpv4 as ipStr } from '../../stack/wire/ipv4.js';
export { PcapWriter } from '../../drivers/pcap.js';

export const ip = (s: string): number => parseIpv4(s)!;

export interface IpOpts { src: string | number; dst: string | number; ttl?: number; id?: number; mf?: boolean; fragOff?: number }

function addr(a: string | number): number {
  return typeof a === 'number' ? a >>> 0 : ip(a);
}

const v4 = new Ipv4View();

/** IPv4 packet (header + payload) with valid header checksum; L4 checksum filled by `l4csum`. */
export function ipv4(o: IpOpts, proto: number, payload: Uint8Array, l4csum = true): Uint8Array {
  const b = new Uint8Array(IP_MIN_HEADER_LEN + payload.length);
  b.set(payload, IP_MIN_HEADER_LEN);
  emitIpv4(b, 0, b.length, o.id ?? 0x1234, o.ttl ?? 64, proto, addr(o.src), addr(o.dst));
  const h = v4.reset(b, 0, b.length);
  h.fragField = (o.mf ? IP_FLAG_MF : 0) | (((o.fragOff ?? 0) >> 3) & IP_FRAG_OFFSET_MASK);
  h.fillChecksum();
  if (l4csum) fillL4Checksum(b, 0);
  return b;
}

/** Offset of the L4 checksum field from the L4 header, or -1. */
function csumAt(proto: number): number {
  return proto === PROTO_TCP ? TCP_CSUM : proto === PROTO_UDP ? UDP_CSUM : proto === PROTO_ICMP ? ICMP_CSUM : -1;
}

/** (Re)compute the L4 checksum of the IPv4 packet at off in buf. */
export function fillL4Checksum(b: Uint8Array, off: number): void {
  const h = v4.reset(b, off, b.length - off);
  const l4 = off + h.headerLen;
  const len = h.totalLen - h.headerLen;
  const proto = h.proto;
  const at = csumAt(proto);
  if (at < 0) return;
  wr16(b, l4 + at, 0);
  let c = checksum(b, l4, len, proto === PROTO_ICMP ? 0 : pseudoSum(h.saddr, h.daddr, proto, len));
  if (proto === PROTO_UDP && c === 0) c = 0xffff;
  wr16(b, l4 + at, c);
}

/** A UDP datagram split in two IPv4 fragments at byte `at` of the UDP message (multiple of 8). */
export function udpFragments(o: IpOpts, sport: number, dport: number, data: number, at: number): [Uint8Array, Uint8Array] {
  const whole = ipv4(o, PROTO_UDP, udpDgram(sport, dport, data));
  const udp = whole.subarray(IP_MIN_HEADER_LEN);
  const a = ipv4({ ...o, mf: true, fragOff: 0 }, PROTO_UDP, udp.subarray(0, at), false);
  const b = ipv4({ ...o, mf: false, fragOff: at }, PROTO_UDP, udp.subarray(at), false);
  return [eth(a), eth(b)];
}

/** A TCP header without options (checksum left to ipv4()) and `data` filler bytes. */
export function tcpSeg(sport: number, dport: number, flags: number, seq = 1000, ack = 0, data = 0): Uint8Array {
  const b = new Uint8Array(TCP_MIN_HEADER_LEN + data);
  wr16(b, L4_SPORT, sport);
  wr16(b, L4_DPORT, dport);
  wr32(b, TCP_SEQ, seq);
  wr32(b, TCP_ACK_NUM, ack);
  b[TCP_DOFF] = (TCP_MIN_HEADER_LEN >> 2) << 4;
  b[TCP_FLAGS] = flags;
  wr16(b, TCP_WINDOW, 65535);
  for (let i = 0; i < data; i++) b[TCP_MIN_HEADER_LEN + i] = (i * 7) & 255;
  return b;
}

export function udpDgram(sport: number, dport: number, data = 8): Uint8Array {
  const b = new Uint8Array(UDP_HEADER_LEN + data);
  wr16(b, L4_SPORT, sport);
  wr16(b, L4_DPORT, dport);
  wr16(b, UDP_LEN, b.length);
  for (let i = 0; i < data; i++) b[UDP_HEADER_LEN + i] = (i * 13) & 255;
  return b;
}

export function icmpEcho(type: 8 | 0, id: number, seq = 1, data = 16): Uint8Array {
  const b = new Uint8Array(ICMP_HEADER_LEN + data);
  b[ICMP_TYPE] = type;
  wr16(b, ICMP_ID, id);
  wr16(b, ICMP_SEQ, seq);
  for (let i = 0; i < data; i++) b[ICMP_HEADER_LEN + i] = i;
  return b;
}

/** An ICMP error (type/code) quoting the IPv4 packet `quoted` (header + first `quoteLen` bytes of L4). */
export function icmpError(type: number, code: number, quoted: Uint8Array, quoteLen = 8): Uint8Array {
  const ihl = v4.reset(quoted, 0, quoted.length).headerLen;
  const q = quoted.subarray(0, Math.min(quoted.length, ihl + quoteLen));
  const b = new Uint8Array(ICMP_HEADER_LEN + q.length);
  b[ICMP_TYPE] = type;
  b[ICMP_CODE] = code;
  b.set(q, ICMP_HEADER_LEN);
  return b;
}

const MAC_A = Uint8Array.of(0x02, 0, 0, 0, 0, 0xa);
const MAC_B = Uint8Array.of(0x02, 0, 0, 0, 0, 0xb);

/** Ethernet frame around an IPv4 packet. */
export function eth(ipPkt: Uint8Array): Uint8Array {
  const f = new Uint8Array(ETH_HEADER_LEN + ipPkt.length);
  emitEthernet(f, 0, MAC_B, 0, MAC_A, 0, ETHERTYPE_IPV4);
  f.set(ipPkt, ETH_HEADER_LEN);
  return f;
}

export interface PktOpts { inIf?: number; outIf?: number; csumPartial?: boolean; gsoType?: number }

/** Fill a Pkt's mirrors from the frame's bytes, as the stack does after validating the IPv4
 *  header (nothing is validated here: tests hand conntrack malformed packets on purpose). */
export function pktOf(frame: Uint8Array, o: PktOpts = {}, p = new Pkt()): Pkt {
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  p.reset(frame, dv, 0, frame.length);
  const h = v4.reset(frame, ETH_HEADER_LEN, frame.length - ETH_HEADER_LEN);
  p.l3 = ETH_HEADER_LEN;
  p.l4 = ETH_HEADER_LEN + h.headerLen;
  p.ipLen = h.totalLen;
  p.l4Len = p.ipLen - h.headerLen;
  p.proto = h.proto;
  p.saddr = h.saddr;
  p.daddr = h.daddr;
  p.frag = (h.fragField & IP_FRAG_OFFSET_MASK) !== 0;
  if (!p.frag) {
    if (p.proto === PROTO_TCP || p.proto === PROTO_UDP) {
      p.sport = rd16(frame, p.l4 + L4_SPORT);
      p.dport = rd16(frame, p.l4 + L4_DPORT);
    } else if (p.proto === PROTO_ICMP && isIcmpQuery(frame[p.l4 + ICMP_TYPE])) {
      p.sport = rd16(frame, p.l4 + ICMP_ID);
      p.dport = p.sport;
    }
  }
  p.inIf = o.inIf ?? 0;
  p.outIf = o.outIf ?? -1;
  p.csumPartial = o.csumPartial ?? false;
  p.gsoType = o.gsoType ?? 0;
  return p;
}

/** Mirror fields read back from the bytes (to check NAT kept them in step). */
export function mirrorsMatch(p: Pkt): boolean {
  const h = v4.reset(p.buf, p.l3, p.ipLen);
  if (h.saddr !== p.saddr || h.daddr !== p.daddr) return false;
  const b = p.buf;
  if (p.proto === PROTO_TCP || p.proto === PROTO_UDP) return rd16(b, p.l4 + L4_SPORT) === p.sport && rd16(b, p.l4 + L4_DPORT) === p.dport;
  if (p.proto === PROTO_ICMP && isIcmpQuery(b[p.l4 + ICMP_TYPE])) return rd16(b, p.l4 + ICMP_ID) === p.sport && p.sport === p.dport;
  return true;
}

/** Verification of every checksum in an Ethernet+IPv4 frame (incl. the quoted header of ICMP
 *  errors) by summing the bytes. Returns a list of problems (empty = good). */
export function verifyFrame(f: Uint8Array): string[] {
  const bad: string[] = [];
  const l3 = ETH_HEADER_LEN;
  const h = v4.reset(f, l3, f.length - l3);
  const ihl = h.headerLen;
  if (sum16(f, l3, ihl) !== 0xffff) bad.push('ip header checksum');
  const proto = h.proto;
  const l4 = l3 + ihl;
  const len = h.totalLen - ihl;
  if (proto === PROTO_TCP || proto === PROTO_UDP) {
    const cs = rd16(f, l4 + csumAt(proto));
    if (!(proto === PROTO_UDP && cs === 0)) {
      if (sum16(f, l4, len, pseudoSum(h.saddr, h.daddr, proto, len)) !== 0xffff) bad.push(proto === PROTO_TCP ? 'tcp checksum' : 'udp checksum');
    }
  } else if (proto === PROTO_ICMP) {
    if (sum16(f, l4, len) !== 0xffff) bad.push('icmp checksum');
    if (isIcmpError(f[l4 + ICMP_TYPE])) {
      const in3 = l4 + ICMP_HEADER_LEN;
      if (sum16(f, in3, v4.reset(f, in3, f.length - in3).headerLen) !== 0xffff) bad.push('inner ip header checksum');
    }
  }
  return bad;
}

/** Partial-checksum frames: the L4 field must hold the uninverted pseudo-header sum. */
export function partialOk(f: Uint8Array): boolean {
  const h = v4.reset(f, ETH_HEADER_LEN, f.length - ETH_HEADER_LEN);
  const len = h.totalLen - h.headerLen;
  return rd16(f, ETH_HEADER_LEN + h.headerLen + csumAt(h.proto)) === pseudoSum(h.saddr, h.daddr, h.proto, len);
}

/** Store the L4 checksum field as a partial (pseudo-header) sum, as a GSO sender does. */
export function makePartial(f: Uint8Array): void {
  const h = v4.reset(f, ETH_HEADER_LEN, f.length - ETH_HEADER_LEN);
  const len = h.totalLen - h.headerLen;
  wr16(f, ETH_HEADER_LEN + h.headerLen + csumAt(h.proto), pseudoSum(h.saddr, h.daddr, h.proto, len));
}

export function tmpPcap(name: string): string {
  return join(mkdtempSync(join(tmpdir(), 'nacl-ct-')), `${name}.pcap`);
}

/** Run tshark over a pcap with checksum validation on; returns {frames, bad} where bad lists
 *  frames with a bad IP/TCP/UDP/ICMP checksum or a malformed packet. */
export function tsharkCheck(path: string): { frames: number; bad: string[] } {
  // Application payloads in these tests are filler: keep port-based dissectors out of the way.
  const opts = ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
    '--disable-protocol', 'dns', '--disable-protocol', 'mdns', '--disable-protocol', 'http', '--disable-protocol', 'tls', '--disable-protocol', 'tapa'];
  const all = execFileSync('tshark', ['-n', '-r', path, ...opts, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const frames = all.split('\n').filter((l) => l.trim() !== '').length;
  const filter = 'ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad" || icmp.checksum.status == "Bad" || _ws.malformed || _ws.expert.severity == error';
  const out = execFileSync('tshark', ['-n', '-r', path, ...opts, '-Y', filter], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { frames, bad: out.split('\n').filter((l) => l.trim() !== '') };
}

/** Conntrack options for tests driven by Clock (time starts at 0 ms). */
export const T0 = { nowMs: 0 };

/** A controllable clock for Conntrack.tick(). */
export class Clock {
  ms = 0;
  advance(seconds: number): number {
    this.ms += seconds * 1000;
    return this.ms;
  }
}
