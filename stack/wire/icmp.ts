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
import { rd16, rd32, WireView, wr16, wr32 } from './view.js';

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
export const ICMP_SOURCE_QUENCH = 4;
export const ICMP_REDIRECT = 5;
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

/** Type names as the `trace` packet spec and its output use them. */
export const ICMP_TYPE_NAMES: Readonly<Record<string, number>> = {
  'echo-reply': ICMP_ECHO_REPLY, 'destination-unreachable': ICMP_DEST_UNREACH, 'source-quench': ICMP_SOURCE_QUENCH, 'redirect': ICMP_REDIRECT,
  'echo-request': ICMP_ECHO_REQUEST, 'time-exceeded': ICMP_TIME_EXCEEDED, 'parameter-problem': ICMP_PARAM_PROBLEM,
  'timestamp-request': 13, 'timestamp-reply': 14,
};

/** Error messages (they quote the datagram they are about). */
export function isIcmpError(type: number): boolean {
  return type === ICMP_DEST_UNREACH || type === ICMP_SOURCE_QUENCH || type === ICMP_REDIRECT ||
    type === ICMP_TIME_EXCEEDED || type === ICMP_PARAM_PROBLEM;
}

/** Echo request/reply: the identifier plays the role of a port. */
export function isIcmpQuery(type: number): boolean {
  return type === ICMP_ECHO_REQUEST || type === ICMP_ECHO_REPLY;
}

/** Bytes of the offending datagram's payload quoted after its header (RFC 792/1812 minimum). */
export const ICMP_QUOTE_PAYLOAD = 8;

export class IcmpView extends WireView {

  check(): number { return this.len < ICMP_HEADER_LEN || this.off + this.len > this.buf.length ? ICMP_TRUNCATED : OK; }
  checksumOk(): boolean { return sum16(this.buf, this.off, this.len) === 0xffff; }

  get type(): number { return this.buf[this.off + ICMP_TYPE]; }
  set type(v: number) { this.buf[this.off + ICMP_TYPE] = v; }
  get code(): number { return this.buf[this.off + ICMP_CODE]; }
  get csum(): number { return rd16(this.buf, this.off + ICMP_CSUM); }
  set csum(v: number) { wr16(this.buf, this.off + ICMP_CSUM, v); }
  get id(): number { return rd16(this.buf, this.off + ICMP_ID); }
  get seq(): number { return rd16(this.buf, this.off + ICMP_SEQ); }
  /** The second 32-bit word (echo id + sequence, MTU, pointer). */
  get rest(): number { return rd32(this.buf, this.off + ICMP_ID); }
  get pointer(): number { return this.buf[this.off + ICMP_POINTER]; }
  get mtu(): number { return this.seq; }
  get isEcho(): boolean { return isIcmpQuery(this.buf[this.off + ICMP_TYPE]); }
  get isError(): boolean { return isIcmpError(this.buf[this.off + ICMP_TYPE]); }
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
  buf[off + ICMP_TYPE] = type; buf[off + ICMP_CODE] = code;
  wr16(buf, off + ICMP_CSUM, 0);
  wr32(buf, off + ICMP_ID, rest);
  const len = ICMP_HEADER_LEN + dataLen;
  wr16(buf, off + ICMP_CSUM, checksum(buf, off, len));
  return len;
}

/** Length of the quote for an error about the datagram at (buf, ipOff) of ipLen bytes:
 *  its header plus 8 payload bytes, capped to what is present. */
export function quoteLen(ipHeaderLen: number, ipLen: number): number {
  const want = ipHeaderLen + ICMP_QUOTE_PAYLOAD;
  return want < ipLen ? want : ipLen;
}
