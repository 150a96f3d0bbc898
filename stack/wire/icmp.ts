// ICMP view (RFC 792): echo request/reply, destination unreachable, time exceeded, parameter
// problem. Error messages carry the offending IPv4 header + at least 8 bytes of its payload
// ("quoted" datagram) after the 8-byte ICMP header; quotedOff/quotedLen locate it so an
// Ipv4View can be reset on it. check() validates length only; checksumOk() the checksum.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Type      |     Code      |          Checksum             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Identifier (echo) / unused   |  Sequence (echo) / MTU (3/4)  |
// |  Pointer (param problem, first byte)                          |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Data (echo) / Internet header + 64 bits of data (errors)  |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

import { checksum, sum16 } from './checksum.js';
import { ICMP_TRUNCATED, OK } from './reason.js';
import { WireView } from './view.js';

export const ICMP_TYPE = 0;
export const ICMP_CODE = 1;
export const ICMP_CSUM = 2;
export const ICMP_ID = 4;
export const ICMP_SEQ = 6;
export const ICMP_POINTER = 4;
export const ICMP_MTU = 6;
export const ICMP_HEADER_LEN = 8;

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAM_PROBLEM = 12;

export const UNREACH_NET = 0;
export const UNREACH_HOST = 1;
export const UNREACH_PROTOCOL = 2;
export const UNREACH_PORT = 3;
export const UNREACH_FRAG_NEEDED = 4;
export const UNREACH_ADMIN = 13;
export const TIME_EXCEEDED_TTL = 0;
export const TIME_EXCEEDED_REASSEMBLY = 1;

/** Bytes of the offending datagram's payload quoted after its header (RFC 792/1812 minimum). */
export const ICMP_QUOTE_PAYLOAD = 8;

export class IcmpView extends WireView {

  check(): number { return this.len < ICMP_HEADER_LEN || this.off + this.len > this.buf.length ? ICMP_TRUNCATED : OK; }
  checksumOk(): boolean { return sum16(this.buf, this.off, this.len) === 0xffff; }

  get type(): number { return this.buf[this.off]; }
  set type(v: number) { this.buf[this.off] = v; }
  get code(): number { return this.buf[this.off + ICMP_CODE]; }
  get csum(): number { return (this.buf[this.off + ICMP_CSUM] << 8) | this.buf[this.off + ICMP_CSUM + 1]; }
  set csum(v: number) { this.buf[this.off + ICMP_CSUM] = v >>> 8; this.buf[this.off + ICMP_CSUM + 1] = v; }
  get id(): number { return (this.buf[this.off + ICMP_ID] << 8) | this.buf[this.off + ICMP_ID + 1]; }
  get seq(): number { return (this.buf[this.off + ICMP_SEQ] << 8) | this.buf[this.off + ICMP_SEQ + 1]; }
  get pointer(): number { return this.buf[this.off + ICMP_POINTER]; }
  get mtu(): number { return this.seq; }
  get isEcho(): boolean { const t = this.buf[this.off]; return t === ICMP_ECHO_REQUEST || t === ICMP_ECHO_REPLY; }
  get isError(): boolean {
    const t = this.buf[this.off];
    return t === ICMP_DEST_UNREACH || t === ICMP_TIME_EXCEEDED || t === ICMP_PARAM_PROBLEM;
  }
  get dataOff(): number { return this.off + ICMP_HEADER_LEN; }
  get dataLen(): number { return this.len - ICMP_HEADER_LEN; }
  /** Location of the quoted datagram of an error message. */
  get quotedOff(): number { return this.off + ICMP_HEADER_LEN; }
  get quotedLen(): number { return this.len - ICMP_HEADER_LEN; }

  fillChecksum(): void {
    this.buf[this.off + ICMP_CSUM] = 0; this.buf[this.off + ICMP_CSUM + 1] = 0;
    this.csum = checksum(this.buf, this.off, this.len);
  }
}

/** Write an ICMP header whose data (dataLen bytes) is already in place after it, and fill the
 *  checksum over header + data. `rest` is the second 32-bit word. Returns the ICMP length. */
export function emitIcmp(buf: Uint8Array, off: number, type: number, code: number, rest: number, dataLen: number): number {
  buf[off] = type; buf[off + 1] = code; buf[off + 2] = 0; buf[off + 3] = 0;
  buf[off + 4] = rest >>> 24; buf[off + 5] = rest >>> 16; buf[off + 6] = rest >>> 8; buf[off + 7] = rest;
  const len = ICMP_HEADER_LEN + dataLen;
  const c = checksum(buf, off, len);
  buf[off + 2] = c >>> 8; buf[off + 3] = c;
  return len;
}

/** Length of the quote for an error about the datagram at (buf, ipOff) of ipLen bytes:
 *  its header plus 8 payload bytes, capped to what is present. */
export function quoteLen(ipHeaderLen: number, ipLen: number): number {
  const want = ipHeaderLen + ICMP_QUOTE_PAYLOAD;
  return want < ipLen ? want : ipLen;
}
