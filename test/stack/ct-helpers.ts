// Test helpers for conntrack/NAT/LB: crafted Ethernet+IPv4 frames with valid checksums, a Pkt
// filled the way the stack fills it, an independent checksum verifier, a classic pcap writer
// and tshark validation of the written file.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checksum, pseudoSum, sum16 } from '../../stack/wire/checksum.js';
import { Pkt } from '../../stack/wire/pkt.js';

export const TCP = 6;
export const UDP = 17;
export const ICMP = 1;
export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

export function ip(s: string): number {
  const [a, b, c, d] = s.split('.').map(Number);
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

export function ipStr(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

export interface IpOpts { src: string | number; dst: string | number; ttl?: number; id?: number; mf?: boolean; fragOff?: number }

function addr(a: string | number): number {
  return typeof a === 'number' ? a >>> 0 : ip(a);
}

/** IPv4 packet (header + payload) with valid header checksum; L4 checksum filled by `l4csum`. */
export function ipv4(o: IpOpts, proto: number, payload: Uint8Array, l4csum = true): Uint8Array {
  const b = new Uint8Array(20 + payload.length);
  const dv = new DataView(b.buffer);
  b[0] = 0x45;
  dv.setUint16(2, b.length);
  dv.setUint16(4, o.id ?? 0x1234);
  dv.setUint16(6, (o.mf ? 0x2000 : 0) | ((o.fragOff ?? 0) >> 3));
  b[8] = o.ttl ?? 64;
  b[9] = proto;
  dv.setUint32(12, addr(o.src));
  dv.setUint32(16, addr(o.dst));
  dv.setUint16(10, checksum(b, 0, 20));
  b.set(payload, 20);
  if (l4csum) fillL4Checksum(b, 0);
  return b;
}

/** (Re)compute the L4 checksum of the IPv4 packet at off in buf. */
export function fillL4Checksum(b: Uint8Array, off: number): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const ihl = (b[off] & 15) * 4;
  const total = dv.getUint16(off + 2);
  const proto = b[off + 9];
  const l4 = off + ihl;
  const len = total - ihl;
  if (proto === TCP || proto === UDP) {
    const at = l4 + (proto === TCP ? 16 : 6);
    dv.setUint16(at, 0);
    const ps = pseudoSum(dv.getUint32(off + 12), dv.getUint32(off + 16), proto, len);
    let c = checksum(b, l4, len, ps);
    if (proto === UDP && c === 0) c = 0xffff;
    dv.setUint16(at, c);
  } else if (proto === ICMP) {
    dv.setUint16(l4 + 2, 0);
    dv.setUint16(l4 + 2, checksum(b, l4, len));
  }
}

/** A UDP datagram split in two IPv4 fragments at byte `at` of the UDP message (multiple of 8). */
export function udpFragments(o: IpOpts, sport: number, dport: number, data: number, at: number): [Uint8Array, Uint8Array] {
  const whole = ipv4(o, UDP, udpDgram(sport, dport, data));
  const udp = whole.subarray(20);
  const a = ipv4({ ...o, mf: true, fragOff: 0 }, UDP, udp.subarray(0, at), false);
  const b = ipv4({ ...o, mf: false, fragOff: at }, UDP, udp.subarray(at), false);
  return [eth(a), eth(b)];
}

export function tcpSeg(sport: number, dport: number, flags: number, seq = 1000, ack = 0, data = 0): Uint8Array {
  const b = new Uint8Array(20 + data);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, sport);
  dv.setUint16(2, dport);
  dv.setUint32(4, seq);
  dv.setUint32(8, ack);
  b[12] = 5 << 4;
  b[13] = flags;
  dv.setUint16(14, 65535);
  for (let i = 0; i < data; i++) b[20 + i] = (i * 7) & 255;
  return b;
}

export function udpDgram(sport: number, dport: number, data = 8): Uint8Array {
  const b = new Uint8Array(8 + data);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, sport);
  dv.setUint16(2, dport);
  dv.setUint16(4, b.length);
  for (let i = 0; i < data; i++) b[8 + i] = (i * 13) & 255;
  return b;
}

export function icmpEcho(type: 8 | 0, id: number, seq = 1, data = 16): Uint8Array {
  const b = new Uint8Array(8 + data);
  const dv = new DataView(b.buffer);
  b[0] = type;
  dv.setUint16(4, id);
  dv.setUint16(6, seq);
  for (let i = 0; i < data; i++) b[8 + i] = i;
  return b;
}

/** An ICMP error (type/code) quoting the IPv4 packet `quoted` (header + first `quoteLen` bytes of L4). */
export function icmpError(type: number, code: number, quoted: Uint8Array, quoteLen = 8): Uint8Array {
  const ihl = (quoted[0] & 15) * 4;
  const q = quoted.subarray(0, Math.min(quoted.length, ihl + quoteLen));
  const b = new Uint8Array(8 + q.length);
  b[0] = type;
  b[1] = code;
  b.set(q, 8);
  return b;
}

const MAC_A = [0x02, 0, 0, 0, 0, 0xa];
const MAC_B = [0x02, 0, 0, 0, 0, 0xb];

/** Ethernet frame around an IPv4 packet. */
export function eth(ipPkt: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + ipPkt.length);
  f.set(MAC_B, 0);
  f.set(MAC_A, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  f.set(ipPkt, 14);
  return f;
}

export interface PktOpts { inIf?: number; outIf?: number; csumPartial?: boolean; gsoType?: number }

/** Fill a Pkt the way the stack does after validating the IPv4 header. */
export function pktOf(frame: Uint8Array, o: PktOpts = {}, p = new Pkt()): Pkt {
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  p.reset(frame, dv, 0, frame.length);
  p.l3 = 14;
  const ihl = (frame[14] & 15) * 4;
  p.l4 = 14 + ihl;
  p.ipLen = dv.getUint16(16);
  p.l4Len = p.ipLen - ihl;
  p.proto = frame[23];
  p.saddr = dv.getUint32(26);
  p.daddr = dv.getUint32(30);
  const fo = dv.getUint16(20);
  p.frag = (fo & 0x1fff) !== 0;
  if (!p.frag) {
    if (p.proto === TCP || p.proto === UDP) {
      p.sport = dv.getUint16(p.l4);
      p.dport = dv.getUint16(p.l4 + 2);
    } else if (p.proto === ICMP && (frame[p.l4] === 8 || frame[p.l4] === 0)) {
      p.sport = dv.getUint16(p.l4 + 4);
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
  const dv = p.dv;
  if (dv.getUint32(p.l3 + 12) !== p.saddr || dv.getUint32(p.l3 + 16) !== p.daddr) return false;
  if (p.proto === TCP || p.proto === UDP) return dv.getUint16(p.l4) === p.sport && dv.getUint16(p.l4 + 2) === p.dport;
  if (p.proto === ICMP && (p.buf[p.l4] === 8 || p.buf[p.l4] === 0)) return dv.getUint16(p.l4 + 4) === p.sport && p.sport === p.dport;
  return true;
}

/** Independent verification of every checksum in an Ethernet+IPv4 frame (incl. the quoted
 *  header of ICMP errors). Returns a list of problems (empty = good). */
export function verifyFrame(f: Uint8Array): string[] {
  const bad: string[] = [];
  const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const l3 = 14;
  const ihl = (f[l3] & 15) * 4;
  const total = dv.getUint16(l3 + 2);
  if (sum16(f, l3, ihl) !== 0xffff) bad.push('ip header checksum');
  const proto = f[l3 + 9];
  const l4 = l3 + ihl;
  const len = total - ihl;
  if (proto === TCP || proto === UDP) {
    const cs = dv.getUint16(l4 + (proto === TCP ? 16 : 6));
    if (!(proto === UDP && cs === 0)) {
      const ps = pseudoSum(dv.getUint32(l3 + 12), dv.getUint32(l3 + 16), proto, len);
      if (sum16(f, l4, len, ps) !== 0xffff) bad.push(proto === TCP ? 'tcp checksum' : 'udp checksum');
    }
  } else if (proto === ICMP) {
    if (sum16(f, l4, len) !== 0xffff) bad.push('icmp checksum');
    const t = f[l4];
    if (t === 3 || t === 11 || t === 12 || t === 4 || t === 5) {
      const in3 = l4 + 8;
      const iihl = (f[in3] & 15) * 4;
      if (sum16(f, in3, iihl) !== 0xffff) bad.push('inner ip header checksum');
    }
  }
  return bad;
}

/** Partial-checksum frames: the L4 field must hold the uninverted pseudo-header sum. */
export function partialOk(f: Uint8Array): boolean {
  const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const l3 = 14;
  const ihl = (f[l3] & 15) * 4;
  const proto = f[l3 + 9];
  const len = dv.getUint16(l3 + 2) - ihl;
  const at = l3 + ihl + (proto === TCP ? 16 : 6);
  return dv.getUint16(at) === pseudoSum(dv.getUint32(l3 + 12), dv.getUint32(l3 + 16), proto, len);
}

/** Store the L4 checksum field as a partial (pseudo-header) sum, as a GSO sender does. */
export function makePartial(f: Uint8Array): void {
  const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const l3 = 14;
  const ihl = (f[l3] & 15) * 4;
  const proto = f[l3 + 9];
  const len = dv.getUint16(l3 + 2) - ihl;
  dv.setUint16(l3 + ihl + (proto === TCP ? 16 : 6), pseudoSum(dv.getUint32(l3 + 12), dv.getUint32(l3 + 16), proto, len));
}

/** Classic pcap (LINKTYPE_ETHERNET), frames copied at add() time. */
export class PcapWriter {
  private readonly chunks: Uint8Array[] = [];
  private t = 0;

  add(frame: Uint8Array, off = 0, len = frame.length - off): void {
    const h = new Uint8Array(16);
    const dv = new DataView(h.buffer);
    this.t++;
    dv.setUint32(0, 1700000000 + Math.floor(this.t / 1000), true);
    dv.setUint32(4, (this.t % 1000) * 1000, true);
    dv.setUint32(8, len, true);
    dv.setUint32(12, len, true);
    this.chunks.push(h, frame.slice(off, off + len));
  }

  get count(): number {
    return this.chunks.length / 2;
  }

  write(path: string): void {
    const g = new Uint8Array(24);
    const dv = new DataView(g.buffer);
    dv.setUint32(0, 0xa1b2c3d4, true);
    dv.setUint16(4, 2, true);
    dv.setUint16(6, 4, true);
    dv.setUint32(16, 65535, true);
    dv.setUint32(20, 1, true);
    writeFileSync(path, Buffer.concat([g, ...this.chunks]));
  }
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
