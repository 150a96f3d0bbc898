// Packet field accessors for compiled rules: one JS expression per NaCl field (Part B section 5)
// for generated code, and the same reads as plain functions for log formatting, the trace
// command and tests. All values are non-negative integers (addresses uint32, host order).
//
// Invariants: generated expressions use the locals `p` (the Pkt), `b` (p.buf), `o3` (p.l3) and
// `o4` (p.l4), which every generated function binds on entry. An L4 field of protocol X reads 0
// unless p.proto === X and the packet is not a non-first fragment; when the surrounding
// function/block already guarantees the protocol, the protocol test is left out.
// Checksums read as the 16-bit value in wire order (as Wireshark shows them).

import type { Field } from '../src/config/model.js';
import type { Pkt } from '../stack/wire/pkt.js';

const u16 = (o: string): string => `((b[${o}] << 8) | b[${o} + 1])`;
const u32 = (o: string): string => `(((b[${o}] << 24) | (b[${o} + 1] << 16) | (b[${o} + 2] << 8) | b[${o} + 3]) >>> 0)`;

/** Protocol whose L4 header a field reads (0 = IP header or packet metadata). */
export function fieldProto(f: Field): number {
  if (f.startsWith('tcp.')) return 6;
  if (f.startsWith('udp.')) return 17;
  if (f.startsWith('icmp.')) return 1;
  return 0;
}

/** Expression for the raw read, without the L4 presence guard. */
function rawExpr(f: Field): string {
  switch (f) {
    case 'ip.version': return '(b[o3] >> 4)';
    case 'ip.hdrlength': return '((b[o3] & 15) << 2)';
    case 'ip.dscp': return '(b[o3 + 1] >> 2)';
    case 'ip.ecn': return '(b[o3 + 1] & 3)';
    case 'ip.length': return u16('o3 + 2');
    case 'ip.id': return u16('o3 + 4');
    case 'ip.frag-off': return `(${u16('o3 + 6')} & 0x1fff)`;
    case 'ip.ttl': return 'b[o3 + 8]';
    case 'ip.protocol': return 'p.proto';
    case 'ip.checksum': return u16('o3 + 10');
    case 'ip.saddr': return 'p.saddr';
    case 'ip.daddr': return 'p.daddr';
    case 'tcp.sport': return 'p.sport';
    case 'tcp.dport': return 'p.dport';
    case 'tcp.sequence': return u32('o4 + 4');
    case 'tcp.ackseq': return u32('o4 + 8');
    case 'tcp.doff': return '(b[o4 + 12] >> 4)';
    case 'tcp.reserved': return 'b[o4 + 12]';
    case 'tcp.flags': return 'b[o4 + 13]';
    case 'tcp.window': return u16('o4 + 14');
    case 'tcp.checksum': return u16('o4 + 16');
    case 'tcp.urgptr': return u16('o4 + 18');
    case 'udp.sport': return 'p.sport';
    case 'udp.dport': return 'p.dport';
    case 'udp.length': return u16('o4 + 4');
    case 'udp.checksum': return u16('o4 + 6');
    case 'icmp.type': return 'b[o4]';
    case 'ct.state': return 'p.ctState';
  }
}

/** JS expression reading field f. `knownProto` is the protocol the enclosing code guarantees
 *  (-1 when any protocol may reach it). */
export function fieldExpr(f: Field, knownProto: number): string {
  const proto = fieldProto(f);
  const raw = rawExpr(f);
  if (proto === 0) return raw;
  if (proto === knownProto) return `(p.frag ? 0 : ${raw})`;
  return `((p.proto === ${proto} && !p.frag) ? ${raw} : 0)`;
}

export type FieldReader = (p: Pkt) => number;

const readers = new Map<Field, FieldReader>();

/** A function reading field f from any packet (guards included). Cached per field. */
export function fieldReader(f: Field): FieldReader {
  let r = readers.get(f);
  if (r === undefined) {
    r = new Function('p', `const b = p.buf, o3 = p.l3, o4 = p.l4; return ${fieldExpr(f, -1)};`) as FieldReader;
    readers.set(f, r);
  }
  return r;
}

export const ALL_FIELDS: readonly Field[] = [
  'ip.version', 'ip.hdrlength', 'ip.dscp', 'ip.ecn', 'ip.length', 'ip.id', 'ip.frag-off', 'ip.ttl',
  'ip.protocol', 'ip.checksum', 'ip.saddr', 'ip.daddr',
  'tcp.sport', 'tcp.dport', 'tcp.sequence', 'tcp.ackseq', 'tcp.doff', 'tcp.reserved', 'tcp.flags',
  'tcp.window', 'tcp.checksum', 'tcp.urgptr',
  'udp.sport', 'udp.dport', 'udp.length', 'udp.checksum',
  'icmp.type', 'ct.state',
];

/** Dotted-quad text of a uint32 address. */
export function formatAddr(a: number): string {
  return `${(a >>> 24) & 255}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}
