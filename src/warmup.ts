// JIT warm-up of the router that is about to run, before its links open. V8 runs new code in
// its interpreter first and optimizes it once it is hot; a router that meets a burst of new
// connections cold runs that burst through slow code (and its compiled rules are new functions
// every start). warmUp() sends traffic shaped by the router's own configuration through the
// router itself, on in-process links (src/offline.ts): new UDP and TCP flows between the
// networks of its Ifaces and to what its routes reach, the replies, ICMP echo through and to the
// router, so its stack, conntrack, NAT and its real compiled rules are hot for the paths this
// configuration takes. Then Router.attachLinks() hands it the real links and resets it:
// no connection, binding, neighbour, counter or log line of the warm-up remains.
// One piece of the packet path is shared code whatever the configuration: the multi-field
// classifier's lookup (filters/classifier.ts), one method for every run of rules of every
// ruleset. The router's traffic warms it when its rules have such runs on the paths the
// warm-up takes; warmClassifier() compiles it in any case, on a rule set of its own, so a
// configuration whose classified rules the warm-up traffic does not reach, or a reload that
// brings the first ones, does not start on an interpreted lookup.
// (The V8 flags the router needs are set where node starts: bin/nacl-router.js.)

import type { RouterConfig } from './control/build.js';
import { buildPacket, packetSpec, type PacketSpec } from './control/packet-spec.js';
import { OfflineLinks, parseFrame } from './offline.js';
import type { Router } from './router.js';
import { Classifier, DIM_DADDR, DIM_DPORT, DIM_PROTO, DIM_SADDR, DIM_SPORT } from '../filters/classifier.js';
import { ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST } from '../stack/wire/icmp.js';
import { parseIpv4, prefixMask, PROTO_ICMP, PROTO_TCP, PROTO_UDP } from '../stack/wire/ipv4.js';
import { Pkt } from '../stack/wire/pkt.js';
import { TCP_ACK, TCP_FIN, TCP_FLAGS, TCP_SYN } from '../stack/wire/tcp.js';

export interface WarmupResult { packets: number; ms: number }

/** New UDP flows per source and destination per round: over the first rounds the connection
 *  table (and NAT's arrays) grow past their first size several times, so the growth path is
 *  compiled before a real burst of new connections needs it. */
const NEW_FLOWS = 512;
/** Rounds run whatever the budget (the growth path needs several growths to be compiled). */
const MIN_ROUNDS = 8;
/** Frames each far end answers per pass (replies warm the established and un-NAT paths). */
const REPLIES = 64;

/** Where the warm-up sends from and to: a host on each addressed Iface's network, and an
 *  address each Gateway route reaches. */
interface Endpoint { iface: number; addr: number }

function endpoints(m: RouterConfig): { hosts: Endpoint[]; targets: Endpoint[] } {
  const hosts: Endpoint[] = [];
  m.ifaces.forEach((i, ix) => {
    if (i.address === null || i.netmask === null || i.netmask === 0xffffffff) return;
    const net = (i.address & i.netmask) >>> 0;
    const a = (net + 2) >>> 0 === i.address ? (net + 3) >>> 0 : (net + 2) >>> 0;
    hosts.push({ iface: ix, addr: a });
  });
  const targets = [...hosts];
  for (const r of m.gateway?.routes ?? []) {
    const ix = m.ifaces.findIndex((i) => i.name === r.iface);
    if (ix < 0 || hosts.some((h) => h.iface === ix && ((h.addr & prefixMask(r.prefix)) >>> 0) === r.net)) continue;
    // A default route: an address far away (TEST-NET-3).
    targets.push({ iface: ix, addr: r.prefix === 0 ? parseIpv4('203.0.113.7')! : (r.net + 2) >>> 0 });
  }
  return { hosts, targets };
}

/** The reply a host sends to a packet it received (p), or null. */
function replyTo(p: Pkt, inIface: string): PacketSpec | null {
  const base = { saddr: p.daddr, daddr: p.saddr, sport: p.dport, dport: p.sport, inIface };
  if (p.proto === PROTO_UDP) return packetSpec({ proto: PROTO_UDP, ...base, len: 46 });
  if (p.proto === PROTO_TCP && !p.frag) {
    const f = p.buf[p.l4 + TCP_FLAGS];
    if ((f & TCP_FIN) !== 0 && (f & TCP_ACK) !== 0) return null;
    const flags = (f & TCP_SYN) !== 0 ? ((f & TCP_ACK) !== 0 ? TCP_ACK : TCP_SYN | TCP_ACK) : (f & TCP_FIN) !== 0 ? TCP_FIN | TCP_ACK : TCP_ACK;
    return packetSpec({ proto: PROTO_TCP, ...base, tcpFlags: flags, len: flags === TCP_ACK ? 240 : null });
  }
  if (p.proto === PROTO_ICMP && p.sport !== 0) {
    return packetSpec({ proto: PROTO_ICMP, ...base, sport: p.sport, dport: p.sport, icmpType: ICMP_ECHO_REPLY });
  }
  return null;
}

/** The classifier warm-up: rules of mixed shapes (address prefixes /8 to /32 on either side,
 *  single ports, port ranges and wildcards, TCP/UDP/any protocol, some with two port ranges, so
 *  the trees have every kind of node and leaf), and packets inside and around the rules. */
const WARM_RULES = 96;
const WARM_PACKETS = 512;
/** Lookups per classifier (with and without flow cache), enough for V8's optimizing compiler. */
const WARM_LOOKUPS = 12000;

/** Compiles the classifier's lookup on a rule set of its own (nothing of it stays). */
export function warmClassifier(): number {
  let seed = 0x2545f491;
  const rnd = (n: number): number => {
    seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const cStart = new Int32Array(WARM_RULES + 1);
  const cDim: number[] = [], cLo: number[] = [], cHi: number[] = [];
  const boxes: number[][] = [];
  const group = (d: number, ranges: Array<[number, number]>): void => ranges.forEach(([lo, hi], k) => {
    cDim.push(d | (k === ranges.length - 1 ? 128 : 0)); cLo.push(lo); cHi.push(hi);
  });
  const prefix = (net: number): [number, number] => {
    const len = [8, 16, 24, 28, 32, 32][rnd(6)]!;
    const lo = (net & prefixMask(len)) >>> 0;
    return [lo, (lo + 2 ** (32 - len) - 1) >>> 0];
  };
  const port = (): [number, number] => {
    const k = rnd(4), lo = 1 + rnd(60000);
    return k === 0 ? [0, 65535] : k === 1 ? [lo, lo] : [lo, lo + rnd(2000)];
  };
  for (let j = 0; j < WARM_RULES; j++) {
    cStart[j] = cDim.length;
    const proto = [PROTO_TCP, PROTO_UDP, PROTO_TCP, -1][rnd(4)]!;
    const src = j % 3 === 2 ? [0, 0xffffffff] as [number, number] : prefix(0x0a000000 + (rnd(64) << 16) + (rnd(256) << 8));
    const dst = prefix(0xc0a80000 + (rnd(16) << 12) + rnd(4096));
    const dp = proto < 0 ? [0, 65535] as [number, number] : port(), sp = proto < 0 ? [0, 65535] as [number, number] : port();
    if (proto >= 0) group(DIM_PROTO, [[proto, proto]]);
    if (src[1] - src[0] < 0xffffffff) group(DIM_SADDR, [src]);
    group(DIM_DADDR, [dst]);
    if (sp[1] - sp[0] < 65535) group(DIM_SPORT, [sp]);
    if (dp[1] - dp[0] < 65535) group(DIM_DPORT, j % 5 === 0 && dp[1] < 60000 ? [dp, [dp[1] + 100, dp[1] + 200]] : [dp]);
    boxes.push([proto < 0 ? PROTO_UDP : proto, src[0], src[1], dst[0], dst[1], sp[0], sp[1], dp[0], dp[1]]);
  }
  cStart[WARM_RULES] = cDim.length;
  const definite = new Uint8Array(WARM_RULES);
  for (let j = 0; j < WARM_RULES; j++) definite[j] = j % 4 === 3 ? 0 : 1;
  const tables = Classifier.build({
    n: WARM_RULES, cStart, cDim: Uint8Array.from(cDim), cLo: Uint32Array.from(cLo), cHi: Uint32Array.from(cHi),
    definite, never: new Uint8Array(WARM_RULES),
  });
  const pick = (lo: number, hi: number): number => lo + rnd(Math.min(hi - lo, 0x7ffffffe) + 1);
  const packets: Pkt[] = [];
  for (let i = 0; i < WARM_PACKETS; i++) {
    const b = boxes[rnd(WARM_RULES)]!;
    const miss = i % 8 === 7;
    packets.push(buildPacket(packetSpec({
      proto: i % 16 === 5 ? PROTO_ICMP : b[0]!, icmpType: ICMP_ECHO_REQUEST,
      saddr: miss ? rnd(0x7fffffff) : pick(b[1]!, b[2]!), daddr: pick(b[3]!, b[4]!),
      sport: pick(b[5]!, b[6]!), dport: miss ? rnd(65536) : pick(b[7]!, b[8]!),
    })));
  }
  let found = 0;
  for (const c of [new Classifier(tables), new Classifier(tables, 0)]) {
    for (let k = 0; k < WARM_LOOKUPS; k++) {
      const p = packets[k % WARM_PACKETS]!;
      if (c.match(p, k & 4 ? 0 : rnd(WARM_RULES)) >= 0) found++;
    }
  }
  return found;
}

/**
 * Runs about `budgetMs` of traffic through `router` (built on `links`), yielding now and then
 * so V8 can finish optimizing what got hot. The caller then attaches the real links
 * (Router.attachLinks resets everything the warm-up left).
 */
export async function warmUp(router: Router, links: OfflineLinks, budgetMs = 300): Promise<WarmupResult> {
  const t0 = performance.now();
  const m = router.model;
  const { hosts, targets } = endpoints(m);
  const parsed = new Pkt();
  const clock0 = Date.now();
  let packets = 0;
  let port = 1024;
  const ingress = new Map(m.ifaces.map((i, ix) => [i.name, ix]));
  const send = (spec: PacketSpec): void => {
    if (links.stage(router, m, spec, ingress.get(spec.inIface!)!) === null) packets++;
  };
  router.silent = true;
  links.start(router);
  try {
    for (let round = 0; (round < MIN_ROUNDS || performance.now() - t0 < budgetMs) && round < 200 && hosts.length > 0; round++) {
      for (const h of hosts) {
        const inIface = m.ifaces[h.iface]!.name;
        for (const d of targets) {
          if (d.addr === h.addr) continue;
          const flow = { saddr: h.addr, daddr: d.addr, inIface };
          // New flows (conntrack inserts, NAT bindings, pool ports; enough over the first rounds
          // that the connection table grows past its first size), a long-lived flow, TCP.
          const udp = packetSpec({ proto: PROTO_UDP, ...flow, dport: 9000, len: 46 });
          for (let k = 0; k < NEW_FLOWS; k++) {
            port = port >= 65000 ? 1024 : port + 1;
            udp.sport = port;
            send(udp);
          }
          send(packetSpec({ proto: PROTO_UDP, ...flow, sport: 1000, dport: 9000, len: 1400 }));
          send(packetSpec({ proto: PROTO_TCP, ...flow, sport: port, dport: 80 }));
          send(packetSpec({ proto: PROTO_ICMP, ...flow, sport: round & 0xffff, icmpType: ICMP_ECHO_REQUEST }));
        }
        const own = m.ifaces[h.iface]!.address;
        if (own !== null) send(packetSpec({ proto: PROTO_ICMP, saddr: h.addr, daddr: own, inIface, sport: 7 }));
      }
      links.settle();
      // The far ends answer what reached them (conntrack replies, un-NAT, TCP handshakes).
      for (let pass = 0; pass < 3; pass++) {
        const replies: PacketSpec[] = [];
        links.hosts.forEach((host, k) => {
          for (let n = 0; n < host.frames.length && n < REPLIES; n++) {
            const vlan = parseFrame(host.frames[n]!, parsed);
            if (vlan === null) continue;
            const ix = m.ifaces.findIndex((i, n) => (i.vlan ?? -1) === vlan && router.stack.ifaces[n]!.link === k);
            if (ix < 0 || parsed.daddr === m.ifaces[ix]!.address) continue;
            const r = replyTo(parsed, m.ifaces[ix]!.name);
            if (r !== null) replies.push(r);
          }
          host.frames.length = 0;
        });
        for (const r of replies) send(r);
        links.settle();
      }
      // The router's loop tick, on a clock of the warm-up's own (a second per round): conntrack
      // expiry and the ARP timers run too. Router.attachLinks puts the clocks back.
      router.tick(clock0 + (round + 1) * 1000);
      if ((round & 3) === 3) await new Promise((r) => setTimeout(r, 1));
    }
  } finally {
    router.silent = false;
    for (const l of links.all) l.close();
  }
  warmClassifier();
  return { packets, ms: performance.now() - t0 };
}
