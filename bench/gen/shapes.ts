// Rule shapes the benchmarks measure, beyond the original blocklist, each written the same way
// for every device (NaCl, iptables-restore, nftables with one rule per rule, nftables with
// sets/concatenations):
//   blocklist    `if (ip.saddr == A) { drop }` x N (rulesets.ts' original shape)
//   tcp-drop     N x `Filter::TCP { if (ip.saddr == A and tcp.dport == P) { drop } }`: one
//   udp-drop     protocol block per rule, as a generator or a person naturally writes them;
//   tcp-accept   the accept variants accept what they match (the chain still ends in accept)
//   udp-accept
//   acl fw ipc   ClassBench-style 5-tuple rules of each seed family (classbench.ts), every rule
//                dropping, consecutive TCP/UDP/ICMP rules in one protocol block
// No rule of any shape matches the benchmark's own traffic (10.10.1.2 <-> 10.10.2.2), so every
// packet is tested against all of them (the worst case for a linear device).

import { parseIpv4 } from '../../stack/wire/ipv4.js';
import { CLIENT_ADDR, SERVER_ADDR } from '../topology.js';
import { generateClassbench, iptablesLines, naclBody, nftLines, nftSetLines, touches, type Family } from './classbench.js';
import { ruleAddr } from './rulesets.js';

export const SHAPES = ['blocklist', 'tcp-drop', 'udp-drop', 'tcp-accept', 'udp-accept', 'acl', 'fw', 'ipc'] as const;
export type Shape = (typeof SHAPES)[number];

export const SHAPE_TEXT: Record<Shape, string> = {
  'blocklist': 'N x `if (ip.saddr == A) { drop }`',
  'tcp-drop': 'N x `Filter::TCP { if (ip.saddr == A and tcp.dport == P) { drop } }`',
  'udp-drop': 'N x `Filter::UDP { if (ip.saddr == A and udp.dport == P) { drop } }`',
  'tcp-accept': 'N x `Filter::TCP { if (ip.saddr == A and tcp.dport == P) { accept } }`',
  'udp-accept': 'N x `Filter::UDP { if (ip.saddr == A and udp.dport == P) { accept } }`',
  'acl': 'ClassBench-style acl family (5-tuple, prefixes and port ranges), all drop',
  'fw': 'ClassBench-style fw family, all drop',
  'ipc': 'ClassBench-style ipc family, all drop',
};

export function isShape(s: string): s is Shape {
  return (SHAPES as readonly string[]).includes(s);
}

/** The same N rules for every device; the final accept is the caller's. */
export interface ShapeRules {
  /** Statements of a NaCl Filter::IP body. */
  nacl: string[];
  /** iptables-restore lines appending to `chain`. */
  iptables: string[];
  /** nft rule statements, in order. */
  nft: string[];
  /** nft sets and the rules that test them, or null when sets cannot express the shape. */
  nftSet: { sets: string[]; rules: string[] } | null;
}


/** Port of block-per-rule rule i (the pair (address, port) is unique). */
export function blockPort(i: number): number {
  return 1000 + (i % 50000);
}

export function shapeRules(shape: Shape, n: number, chain: string, seed = 1): ShapeRules {
  switch (shape) {
    case 'blocklist': {
      const addrs = Array.from({ length: n }, (_, i) => ruleAddr(i));
      const elems: string[] = [];
      for (let i = 0; i < n; i += 64) elems.push(`      ${addrs.slice(i, i + 64).join(', ')}${i + 64 < n ? ',' : ''}`);
      return {
        nacl: addrs.map((a) => `  if (ip.saddr == ${a}) { drop }`),
        iptables: addrs.map((a) => `-A ${chain} -s ${a}/32 -j DROP`),
        nft: addrs.map((a) => `ip saddr ${a} drop`),
        nftSet: n === 0 ? { sets: [], rules: [] }
          : { sets: ['  set blocked {', '    type ipv4_addr', '    elements = {', ...elems, '    }', '  }'], rules: ['ip saddr @blocked drop'] },
      };
    }
    case 'tcp-drop': case 'udp-drop': case 'tcp-accept': case 'udp-accept': {
      const proto = shape.startsWith('tcp') ? 'tcp' : 'udp';
      const action = shape.endsWith('drop') ? 'drop' : 'accept';
      const nacl: string[] = [], iptables: string[] = [], nft: string[] = [], elems: string[] = [];
      for (let i = 0; i < n; i++) {
        const a = ruleAddr(i), p = blockPort(i);
        nacl.push(`  Filter::${proto.toUpperCase()} {`, `    if (ip.saddr == ${a} and ${proto}.dport == ${p}) { ${action} }`, '  }');
        iptables.push(`-A ${chain} -p ${proto} -s ${a}/32 --dport ${p} -j ${action.toUpperCase()}`);
        nft.push(`ip saddr ${a} ${proto} dport ${p} ${action}`);
        elems.push(`${a} . ${p}`);
      }
      const lines: string[] = [];
      for (let i = 0; i < n; i += 64) lines.push(`      ${elems.slice(i, i + 64).join(', ')}${i + 64 < n ? ',' : ''}`);
      return {
        nacl, iptables, nft,
        nftSet: n === 0 ? { sets: [], rules: [] } : {
          sets: ['  set pairs {', '    type ipv4_addr . inet_service', '    elements = {', ...lines, '    }', '  }'],
          rules: [`ip saddr . ${proto} dport @pairs ${action}`],
        },
      };
    }
    case 'acl': case 'fw': case 'ipc': {
      const a = parseIpv4(CLIENT_ADDR)!, b = parseIpv4(SERVER_ADDR)!;
      const rules = generateClassbench(shape as Family, n, seed, { exclude: (r) => touches(r, a, b) });
      return { nacl: naclBody(rules), iptables: iptablesLines(rules, chain), nft: nftLines(rules), nftSet: nftSetLines(rules, shape) };
    }
  }
}
