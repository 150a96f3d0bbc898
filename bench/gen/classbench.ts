// ClassBench-style 5-tuple rulesets and header traces, written for this project after the
// published description of ClassBench (D. E. Taylor, J. S. Turner, "ClassBench: A Packet
// Classification Benchmark", IEEE/ACM Transactions on Networking 15(3), 2007). It follows the
// paper's model, not its seed files or code: a rule is an address prefix pair plus an
// application specification (protocol, source and destination port ranges); per seed family
//   * a protocol distribution (TCP, UDP, ICMP, other protocols, wildcard),
//   * a distribution over the 25 port-pair classes built from the five port-range classes
//     WC (0-65535), HI (1024-65535), LO (0-1023), AR (an arbitrary range) and EM (one port),
//     with EM ports drawn mostly from well-known services,
//   * source and destination prefix-length distributions (wildcards, host routes, /24s and
//     shorter prefixes in the proportions that set acl, fw and ipc apart),
//   * addresses that nest and cluster: prefixes are grown from a skewed set of base networks,
//     so many rules share leading bits, as in real filter sets (the paper's prefix nesting and
//     skew),
//   * no two identical rules.
// The three families: acl (access lists: specific destination prefixes, destination port EM
// dominant), fw (firewalls: many wildcards and port ranges), ipc (IP chains: many any-protocol
// rules interleaved with TCP/UDP ones). The parameters approximate the shape of the paper's
// statistics for the acl1/fw1/ipc1 seeds; they are not the seeds.
// Trace generation follows the paper's trace generator: each header is a random point inside a
// rule picked uniformly from the whole list (so hits land all over it).

import { formatIpv4 } from '../../stack/wire/ipv4.js';

export type Family = 'acl' | 'fw' | 'ipc';
export const FAMILIES: readonly Family[] = ['acl', 'fw', 'ipc'];

export interface CbRule {
  /** IP protocol number, or -1 for any. */
  proto: number;
  /** Inclusive address ranges (prefixes) and their lengths. */
  src: [number, number]; srcLen: number;
  dst: [number, number]; dstLen: number;
  /** Inclusive port ranges (TCP/UDP rules only; [0, 65535] otherwise). */
  sport: [number, number];
  dport: [number, number];
  action: 'accept' | 'drop';
}

type PortClass = 'WC' | 'HI' | 'LO' | 'AR' | 'EM';

interface FamilyParams {
  /** [protocol (-1 any), weight]. */
  protocols: Array<[number, number]>;
  /** [source class, destination class, weight] for TCP/UDP rules. */
  ports: Array<[PortClass, PortClass, number]>;
  /** [prefix length, weight]; a weight on `[a, b]` spreads over a..b. */
  srcLen: Array<[number | [number, number], number]>;
  dstLen: Array<[number | [number, number], number]>;
  /** How many base networks addresses grow from, and how skewed the choice among them is. */
  bases: number;
  skew: number;
}

const PARAMS: Record<Family, FamilyParams> = {
  acl: {
    protocols: [[6, 62], [17, 24], [1, 6], [-1, 6], [47, 1], [50, 1]],
    ports: [['WC', 'EM', 52], ['WC', 'AR', 10], ['WC', 'WC', 9], ['WC', 'HI', 5], ['WC', 'LO', 3], ['HI', 'EM', 6],
      ['EM', 'WC', 4], ['EM', 'EM', 3], ['AR', 'WC', 2], ['HI', 'HI', 3], ['LO', 'EM', 2], ['AR', 'AR', 1]],
    srcLen: [[0, 14], [32, 28], [[24, 31], 34], [[8, 23], 24]],
    dstLen: [[0, 4], [32, 46], [[24, 31], 34], [[16, 23], 16]],
    bases: 64, skew: 1.1,
  },
  fw: {
    protocols: [[6, 52], [17, 20], [-1, 21], [1, 5], [47, 1], [50, 1]],
    ports: [['WC', 'WC', 33], ['WC', 'EM', 24], ['WC', 'AR', 14], ['HI', 'WC', 5], ['WC', 'HI', 9], ['AR', 'WC', 5],
      ['EM', 'WC', 4], ['HI', 'EM', 3], ['LO', 'WC', 1], ['AR', 'AR', 2]],
    srcLen: [[0, 36], [32, 20], [[24, 31], 20], [[8, 23], 24]],
    dstLen: [[0, 24], [32, 30], [[24, 31], 26], [[8, 23], 20]],
    bases: 24, skew: 1.3,
  },
  ipc: {
    protocols: [[6, 38], [17, 20], [-1, 32], [1, 8], [47, 1], [89, 1]],
    ports: [['WC', 'WC', 44], ['WC', 'EM', 30], ['EM', 'WC', 10], ['WC', 'HI', 5], ['HI', 'WC', 3], ['WC', 'AR', 4],
      ['EM', 'EM', 3], ['LO', 'LO', 1]],
    srcLen: [[0, 20], [32, 40], [[24, 31], 20], [[8, 23], 20]],
    dstLen: [[0, 14], [32, 45], [[24, 31], 24], [[8, 23], 17]],
    bases: 96, skew: 0.9,
  },
};

/** Well-known services EM ports are mostly drawn from. */
const SERVICES = [80, 443, 53, 25, 22, 21, 23, 110, 143, 123, 135, 137, 139, 161, 389, 445, 514, 993, 995, 1433, 1521,
  1723, 3306, 3389, 5060, 5432, 8080, 8443];

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function weighted<T>(r: () => number, items: Array<[T, number]>): T {
  let total = 0;
  for (const [, w] of items) total += w;
  let x = r() * total;
  for (const [v, w] of items) { x -= w; if (x < 0) return v; }
  return items[items.length - 1]![0];
}

function lengthOf(r: () => number, dist: Array<[number | [number, number], number]>): number {
  const v = weighted(r, dist);
  return typeof v === 'number' ? v : v[0] + Math.floor(r() * (v[1] - v[0] + 1));
}

function prefixRange(addr: number, len: number): [number, number] {
  if (len === 0) return [0, 0xffffffff];
  const size = 2 ** (32 - len);
  const lo = Math.floor(addr / size) * size;
  return [lo, lo + size - 1];
}

/** Unicast space outside 0/8, 10/8 (the benchmark's own networks), 127/8 and 224/3. */
function baseNetwork(r: () => number): number {
  for (;;) {
    const a = 1 + Math.floor(r() * 222);
    if (a !== 10 && a !== 127) return ((a << 24) >>> 0) + Math.floor(r() * 2 ** 24);
  }
}

class AddressModel {
  private readonly bases: number[] = [];
  /** Per base, a few /24s that many host and /24-31 prefixes fall into (nesting). */
  private readonly subnets: number[][] = [];
  /** The address tree grows with the set, as in ClassBench (unique prefixes grow with the
   *  number of rules): more base networks for larger sets. */
  constructor(private readonly r: () => number, private readonly p: FamilyParams, n: number) {
    const bases = p.bases + Math.ceil(n / 40);
    for (let i = 0; i < bases; i++) {
      this.bases.push(baseNetwork(r) & 0xffff0000);
      const subs: number[] = [];
      for (let k = 0; k < 8; k++) subs.push(((this.bases[i]! + Math.floor(r() * 65536)) & 0xffffff00) >>> 0);
      this.subnets.push(subs);
    }
  }

  /** An address whose leading `len` bits form the prefix. */
  address(len: number): number {
    const r = this.r;
    // Zipf-like choice of the base network.
    const i = Math.min(this.bases.length - 1, Math.floor(this.bases.length * r() ** (1 + this.p.skew)));
    if (len <= 16) return (this.bases[i]! + Math.floor(r() * 65536)) >>> 0;
    const subs = this.subnets[i]!;
    const s = r() < 0.7 ? subs[Math.floor(r() * subs.length)]! : (this.bases[i]! + (Math.floor(r() * 256) << 8)) >>> 0;
    return (s + Math.floor(r() * 256)) >>> 0;
  }
}

function portRange(r: () => number, c: PortClass): [number, number] {
  switch (c) {
    case 'WC': return [0, 65535];
    case 'HI': return [1024, 65535];
    case 'LO': return [0, 1023];
    case 'EM': {
      const p = r() < 0.75 ? SERVICES[Math.floor(r() * SERVICES.length)]! : 1 + Math.floor(r() * 65535);
      return [p, p];
    }
    case 'AR': {
      const lo = r() < 0.5 ? 1024 + Math.floor(r() * 60000) : Math.floor(r() * 1024);
      const span = r() < 0.6 ? 1 + Math.floor(r() * 16) : 100 + Math.floor(r() * 2000);
      return [lo, Math.min(65535, lo + span)];
    }
  }
}

export interface GenerateOptions {
  /** 'drop': every rule drops; 'mixed': about a third accept. */
  actions?: 'drop' | 'mixed';
  /** Rules for which this returns true are not emitted (another is drawn). */
  exclude?: (r: CbRule) => boolean;
}

/** n distinct rules of a family, reproducible from the seed. */
export function generateClassbench(family: Family, n: number, seed: number, opts: GenerateOptions = {}): CbRule[] {
  const r = rng(seed * 7919 + FAMILIES.indexOf(family));
  const p = PARAMS[family];
  const addrs = new AddressModel(r, p, n);
  const seen = new Set<string>();
  const out: CbRule[] = [];
  let tries = 0;
  while (out.length < n) {
    if (++tries > n * 50 + 1000) throw new Error(`classbench: cannot draw ${n} distinct ${family} rules`);
    const proto = weighted(r, p.protocols);
    let sport: [number, number] = [0, 65535], dport: [number, number] = [0, 65535];
    if (proto === 6 || proto === 17) {
      const [sc, dc] = weighted(r, p.ports.map(([a, b, w]) => [[a, b] as [PortClass, PortClass], w]));
      sport = portRange(r, sc);
      dport = portRange(r, dc);
    }
    const srcLen = lengthOf(r, p.srcLen), dstLen = lengthOf(r, p.dstLen);
    // A rule with both addresses wildcard must name a service (port), or it would shadow
    // everything after it of its protocol (real sets have such a rule only as the default).
    const narrowPort = (x: [number, number]): boolean => x[1] - x[0] < 1024;
    if (srcLen === 0 && dstLen === 0 && !narrowPort(sport) && !narrowPort(dport)) continue;
    const rule: CbRule = {
      proto, srcLen, dstLen, sport, dport,
      src: prefixRange(addrs.address(srcLen), srcLen),
      dst: prefixRange(addrs.address(dstLen), dstLen),
      action: opts.actions === 'mixed' && r() < 0.33 ? 'accept' : 'drop',
    };
    const key = `${proto} ${rule.src[0]}/${srcLen} ${rule.dst[0]}/${dstLen} ${sport[0]}-${sport[1]} ${dport[0]}-${dport[1]}`;
    if (seen.has(key) || opts.exclude?.(rule)) continue;
    seen.add(key);
    out.push(rule);
  }
  return out;
}

/** True when the rule can match a packet between these addresses (either direction), whatever
 *  its ports and protocol: used to keep the benchmark's own traffic from matching any rule. */
export function touches(rule: CbRule, a: number, b: number): boolean {
  const inR = (v: number, x: [number, number]): boolean => v >= x[0] && v <= x[1];
  return (inR(a, rule.src) && inR(b, rule.dst)) || (inR(b, rule.src) && inR(a, rule.dst));
}

export interface Header { proto: number; saddr: number; daddr: number; sport: number; dport: number }

/** `count` headers, each a random point of a rule drawn uniformly from the list. */
export function classbenchTrace(rules: CbRule[], count: number, seed: number): Header[] {
  const r = rng(seed ^ 0x5bd1e995);
  const pick = (x: [number, number]): number => x[0] + Math.floor(r() * (x[1] - x[0] + 1));
  const out: Header[] = [];
  for (let i = 0; i < count; i++) {
    const rule = rules[Math.floor(r() * rules.length)]!;
    const proto = rule.proto >= 0 ? rule.proto : [6, 17, 1][Math.floor(r() * 3)]!;
    const ports = proto === 6 || proto === 17;
    out.push({
      proto, saddr: pick(rule.src), daddr: pick(rule.dst),
      sport: ports ? pick(rule.sport) : 0, dport: ports ? pick(rule.dport) : 0,
    });
  }
  return out;
}

// ---- rendering: NaCl, iptables-restore, nft ----

const PROTO_BLOCK: Record<number, string> = { 6: 'TCP', 17: 'UDP', 1: 'ICMP' };
const PROTO_NAME: Record<number, string> = { 6: 'tcp', 17: 'udp', 1: 'icmp' };

function naclCond(rule: CbRule, inBlock: boolean): string {
  const t: string[] = [];
  if (rule.proto >= 0 && !inBlock) t.push(`ip.protocol == ${rule.proto}`);
  const addr = (f: string, x: [number, number], len: number): void => {
    if (len === 32) t.push(`${f} == ${formatIpv4(x[0])}`);
    else if (len > 0) t.push(`${f} in ${formatIpv4(x[0])}/${len}`);
  };
  addr('ip.saddr', rule.src, rule.srcLen);
  addr('ip.daddr', rule.dst, rule.dstLen);
  const name = PROTO_NAME[rule.proto];
  if (rule.proto === 6 || rule.proto === 17) {
    const port = (f: string, x: [number, number]): void => {
      if (x[0] === 0 && x[1] === 65535) return;
      t.push(x[0] === x[1] ? `${name}.${f} == ${x[0]}` : `${name}.${f} in ${x[0]}-${x[1]}`);
    };
    port('sport', rule.sport);
    port('dport', rule.dport);
  }
  return t.length === 0 ? 'true' : t.join(' and ');
}

/** The statements of a Filter body: consecutive TCP/UDP/ICMP rules in one protocol block (as a
 *  converter from another firewall would write them), the others at the top level. */
export function naclBody(rules: CbRule[], indent = '  '): string[] {
  const out: string[] = [];
  let block = -2;
  for (const rule of rules) {
    const b = PROTO_BLOCK[rule.proto] !== undefined ? rule.proto : -2;
    if (b !== block) {
      if (block !== -2) out.push(`${indent}}`);
      if (b !== -2) out.push(`${indent}Filter::${PROTO_BLOCK[b]} {`);
      block = b;
    }
    const pad = b === -2 ? indent : indent + '  ';
    out.push(`${pad}if (${naclCond(rule, b !== -2)}) { ${rule.action} }`);
  }
  if (block !== -2) out.push(`${indent}}`);
  return out;
}

function cidr(x: [number, number], len: number): string {
  return `${formatIpv4(x[0])}/${len}`;
}

/** iptables-restore lines for a chain (without the table header). */
export function iptablesLines(rules: CbRule[], chain: string): string[] {
  return rules.map((rule) => {
    const a: string[] = [`-A ${chain}`];
    if (rule.proto >= 0) a.push(`-p ${PROTO_NAME[rule.proto] ?? rule.proto}`);
    if (rule.srcLen > 0) a.push(`-s ${cidr(rule.src, rule.srcLen)}`);
    if (rule.dstLen > 0) a.push(`-d ${cidr(rule.dst, rule.dstLen)}`);
    if (rule.proto === 6 || rule.proto === 17) {
      if (rule.sport[0] !== 0 || rule.sport[1] !== 65535) a.push(`--sport ${rule.sport[0]}:${rule.sport[1]}`);
      if (rule.dport[0] !== 0 || rule.dport[1] !== 65535) a.push(`--dport ${rule.dport[0]}:${rule.dport[1]}`);
    }
    a.push(`-j ${rule.action === 'drop' ? 'DROP' : 'ACCEPT'}`);
    return a.join(' ');
  });
}

/** nft rule statements, one per rule, in order. */
export function nftLines(rules: CbRule[]): string[] {
  return rules.map((rule) => {
    const a: string[] = [];
    if (rule.srcLen > 0) a.push(`ip saddr ${cidr(rule.src, rule.srcLen)}`);
    if (rule.dstLen > 0) a.push(`ip daddr ${cidr(rule.dst, rule.dstLen)}`);
    const name = PROTO_NAME[rule.proto];
    if (rule.proto === 6 || rule.proto === 17) {
      const sp = rule.sport[0] !== 0 || rule.sport[1] !== 65535, dp = rule.dport[0] !== 0 || rule.dport[1] !== 65535;
      if (sp) a.push(`${name} sport ${rule.sport[0] === rule.sport[1] ? rule.sport[0] : `${rule.sport[0]}-${rule.sport[1]}`}`);
      if (dp) a.push(`${name} dport ${rule.dport[0] === rule.dport[1] ? rule.dport[0] : `${rule.dport[0]}-${rule.dport[1]}`}`);
      if (!sp && !dp) a.push(`ip protocol ${name}`);
    } else if (rule.proto >= 0) a.push(`ip protocol ${name ?? rule.proto}`);
    a.push(rule.action);
    return a.join(' ');
  });
}

/** nft with concatenated interval sets. nftables rejects overlapping elements in such a set
 *  ("File exists"), so the rules of each protocol kind are split into layers of pairwise
 *  disjoint rules (first fit), one set and one rule per layer. Expressible only when every rule
 *  has the same action (a set has no order); null otherwise. */
export function nftSetLines(rules: CbRule[], setPrefix: string): { sets: string[]; rules: string[] } | null {
  if (rules.length === 0) return { sets: [], rules: [] };
  const action = rules[0]!.action;
  if (rules.some((x) => x.action !== action)) return null;
  const kinds = new Map<string, CbRule[][]>();
  const meets = (a: CbRule, b: CbRule): boolean =>
    a.src[0] <= b.src[1] && b.src[0] <= a.src[1] && a.dst[0] <= b.dst[1] && b.dst[0] <= a.dst[1] &&
    a.sport[0] <= b.sport[1] && b.sport[0] <= a.sport[1] && a.dport[0] <= b.dport[1] && b.dport[0] <= a.dport[1];
  for (const rule of rules) {
    const k = rule.proto === 6 || rule.proto === 17 ? PROTO_NAME[rule.proto]! : rule.proto < 0 ? 'any' : String(rule.proto);
    let layers = kinds.get(k);
    if (layers === undefined) kinds.set(k, (layers = []));
    let layer = layers.find((l) => !l.some((x) => meets(x, rule)));
    if (layer === undefined) layers.push((layer = []));
    layer.push(rule);
  }
  const sets: string[] = [];
  const out: string[] = [];
  for (const [k, layers] of kinds) {
    layers.forEach((layer, li) => {
      const name = `${setPrefix}_${k}_${li}`;
      const ports = k === 'tcp' || k === 'udp';
      const elems = layer.map((r) => `${cidr(r.src, r.srcLen)} . ${cidr(r.dst, r.dstLen)}${ports ? ` . ${r.sport[0]}-${r.sport[1]} . ${r.dport[0]}-${r.dport[1]}` : ''}`);
      sets.push(`  set ${name} {`, `    type ipv4_addr . ipv4_addr${ports ? ' . inet_service . inet_service' : ''}`, '    flags interval',
        '    elements = {');
      for (let i = 0; i < elems.length; i += 32) sets.push(`      ${elems.slice(i, i + 32).join(', ')}${i + 32 < elems.length ? ',' : ''}`);
      sets.push('    }', '  }');
      const match = ports ? `ip saddr . ip daddr . ${k} sport . ${k} dport @${name}`
        : k === 'any' ? `ip saddr . ip daddr @${name}` : `ip protocol ${PROTO_NAME[Number(k)] ?? k} ip saddr . ip daddr @${name}`;
      out.push(`${match} ${action}`);
    });
  }
  return { sets, rules: out };
}
