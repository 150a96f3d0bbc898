// TCP header view (RFC 9293). check() validates that the fixed header fits and the data
// offset is within 5..15 words and inside the segment. Options are located, not parsed.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |          Source Port          |       Destination Port        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                        Sequence Number                        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Acknowledgment Number                      |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Data |       |C|E|U|A|P|R|S|F|                               |
// | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
// |       |       |R|E|G|K|H|T|N|N|                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |           Checksum            |         Urgent Pointer        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Options                    |    Padding    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

import { pseudoSum, sum16 } from './checksum.js';
import { OK, TCP_BAD_DATA_OFFSET, TCP_TRUNCATED } from './reason.js';
import { PROTO_TCP } from './ipv4.js';
import { rd16, rd32, WireView, wr16, wr32 } from './view.js';

export const TCP_SPORT = 0;
export const TCP_DPORT = 2;
export const TCP_SEQ = 4;
export const TCP_ACK_NUM = 8;
export const TCP_DOFF = 12;
export const TCP_FLAGS = 13;
export const TCP_WINDOW = 14;
export const TCP_CSUM = 16;
export const TCP_URG_PTR = 18;
export const TCP_MIN_HEADER_LEN = 20;

/** Flag bits of the byte at TCP_FLAGS. */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;
/** Flag names as tools print them (tcpdump/nftables words), in bit order. */
export const TCP_FLAG_NAMES: Readonly<Record<string, number>> = {
  fin: TCP_FIN, syn: TCP_SYN, rst: TCP_RST, psh: TCP_PSH, ack: TCP_ACK, urg: TCP_URG, ece: TCP_ECE, cwr: TCP_CWR,
};

/** "syn,ack" for a flags byte. */
export function formatTcpFlags(f: number): string {
  return Object.keys(TCP_FLAG_NAMES).filter((n) => (f & TCP_FLAG_NAMES[n]) !== 0).join(',');
}

export class TcpView extends WireView {

  check(): number {
    if (this.len < TCP_MIN_HEADER_LEN || this.off + this.len > this.buf.length) return TCP_TRUNCATED;
    const hl = this.headerLen;
    if (hl < TCP_MIN_HEADER_LEN || hl > this.len) return TCP_BAD_DATA_OFFSET;
    return OK;
  }

  get sport(): number { return rd16(this.buf, this.off + TCP_SPORT); }
  get dport(): number { return rd16(this.buf, this.off + TCP_DPORT); }
  get seq(): number { return rd32(this.buf, this.off + TCP_SEQ); }
  get ack(): number { return rd32(this.buf, this.off + TCP_ACK_NUM); }
  get dataOffset(): number { return this.buf[this.off + TCP_DOFF] >>> 4; }
  get headerLen(): number { return (this.buf[this.off + TCP_DOFF] >>> 4) << 2; }
  get optionsLen(): number { return this.headerLen - TCP_MIN_HEADER_LEN; }
  get optionsOff(): number { return this.off + TCP_MIN_HEADER_LEN; }
  get flags(): number { return this.buf[this.off + TCP_FLAGS]; }
  get fin(): boolean { return (this.flags & TCP_FIN) !== 0; }
  get syn(): boolean { return (this.flags & TCP_SYN) !== 0; }
  get rst(): boolean { return (this.flags & TCP_RST) !== 0; }
  get psh(): boolean { return (this.flags & TCP_PSH) !== 0; }
  get ackFlag(): boolean { return (this.flags & TCP_ACK) !== 0; }
  get urg(): boolean { return (this.flags & TCP_URG) !== 0; }
  get window(): number { return (this.buf[this.off + TCP_WINDOW] << 8) | this.buf[this.off + TCP_WINDOW + 1]; }
  get csum(): number { return (this.buf[this.off + TCP_CSUM] << 8) | this.buf[this.off + TCP_CSUM + 1]; }
  set csum(v: number) { this.buf[this.off + TCP_CSUM] = v >>> 8; this.buf[this.off + TCP_CSUM + 1] = v; }
  get urgentPtr(): number { return (this.buf[this.off + TCP_URG_PTR] << 8) | this.buf[this.off + TCP_URG_PTR + 1]; }
  get payloadOff(): number { return this.off + this.headerLen; }
  get payloadLen(): number { return this.len - this.headerLen; }

  /** Verify over pseudo-header + segment (len = the whole segment). */
  checksumOk(saddr: number, daddr: number): boolean {
    return sum16(this.buf, this.off, this.len, pseudoSum(saddr, daddr, PROTO_TCP, this.len)) === 0xffff;
  }
}

/** Write a TCP header without options (data offset 5) before payloadLen bytes already in
 *  place, with a full checksum. Returns the segment length. */
export function emitTcp(buf: Uint8Array, off: number, saddr: number, daddr: number, sport: number,
  dport: number, seq: number, ack: number, flags: number, window: number, payloadLen: number): number {
  wr16(buf, off + TCP_SPORT, sport);
  wr16(buf, off + TCP_DPORT, dport);
  wr32(buf, off + TCP_SEQ, seq);
  wr32(buf, off + TCP_ACK_NUM, ack);
  buf[off + TCP_DOFF] = 5 << 4; buf[off + TCP_FLAGS] = flags;
  buf[off + TCP_WINDOW] = window >>> 8; buf[off + TCP_WINDOW + 1] = window;
  buf[off + TCP_CSUM] = 0; buf[off + TCP_CSUM + 1] = 0;
  buf[off + TCP_URG_PTR] = 0; buf[off + TCP_URG_PTR + 1] = 0;
  const l = TCP_MIN_HEADER_LEN + payloadLen;
  const c = ~sum16(buf, off, l, pseudoSum(saddr, daddr, PROTO_TCP, l)) & 0xffff;
  buf[off + TCP_CSUM] = c >>> 8; buf[off + TCP_CSUM + 1] = c;
  return l;
}
