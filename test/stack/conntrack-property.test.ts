// Property test: random interleavings of packets of many flows through DNAT, SNAT and
// masquerade, with random clock advances. After every step every live connection is findable
// from both directions, every pool port is held by exactly one connection or free, and
// replies of live connections come back translated to the original endpoints. Time-bounded.
import t from 'tap';
import { Conntrack, C_INVALID_TCP_STATE } from '../../stack/conntrack.js';
import { NatEngine } from '../../stack/nat.js';
import { LoadBalancer } from '../../stack/lb.js';
import { ACCEPT, DIR_REPLY } from '../../stack/wire/pkt.js';
import { ACK, Clock, ICMP, SYN, TCP, UDP, eth, icmpEcho, ip, ipv4, pktOf, tcpSeg, udpDgram, verifyFrame, T0 } from './ct-helpers.js';

const OUT = 0, IN = 1, OUT2 = 2;
const OUT_ADDR = ip('10.0.0.45'), IN_ADDR = ip('192.168.0.1'), OUT2_ADDR = ip('172.16.0.1');
const SNAT_ADDR = ip('172.16.0.9'), SERVER = ip('192.168.0.54');
const BUDGET_MS = 3500;

interface Tuple { s: number; d: number; sp: number; dp: number }
interface Flow { proto: number; orig: Tuple; kind: 'masq' | 'dnat' | 'snat' | 'lb'; inIf: number; outIf: number; wire: Tuple | null; sent: number }

function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 0x100000000;
  };
}

function frameOf(proto: number, tp: Tuple, first: boolean, reply: boolean): Uint8Array {
  if (proto === TCP) return eth(ipv4({ src: tp.s, dst: tp.d }, TCP, tcpSeg(tp.sp, tp.dp, first ? (reply ? SYN | ACK : SYN) : ACK, 1, 1, 10)));
  if (proto === UDP) return eth(ipv4({ src: tp.s, dst: tp.d }, UDP, udpDgram(tp.sp, tp.dp)));
  return eth(ipv4({ src: tp.s, dst: tp.d }, ICMP, icmpEcho(reply ? 0 : 8, tp.sp)));
}

t.test('random interleavings never lose a direction and never leak ports', async (t) => {
  const seed = process.env.CT_SEED ? Number(process.env.CT_SEED) : (Date.now() ^ process.pid) >>> 0;
  t.comment(`seed ${seed} (stateful_tcp ${(seed & 1) === 1})`);
  const rand = rng(seed);
  const pick = <T>(a: T[]): T => a[Math.floor(rand() * a.length)];
  const clock = new Clock();
  const ct = new Conntrack({ limit: 3000, statefulTcp: (seed & 1) === 1 }, T0);
  const lb = new LoadBalancer({
    name: 'lb', clientsIf: OUT, vip: OUT_ADDR, port: 80, serversIf: IN, sessionLimit: 40, waitQueueLimit: 0,
    nodes: [{ address: ip('192.168.0.100'), port: 8080 }, { address: ip('192.168.0.101'), port: 8080 }],
  });
  const nat = new NatEngine(ct, {
    ifaces: [{ address: OUT_ADDR, masquerade: true }, { address: IN_ADDR, masquerade: false }, { address: OUT2_ADDR, masquerade: false }],
    portRange: [50000, 50063],
    preservePorts: (seed & 2) === 2,
  }, [lb]);
  const flows: Flow[] = [];
  let steps = 0, passed = 0, dropped = 0, replies = 0, checkedReplies = 0;
  const problems: string[] = [];

  const newFlow = (): Flow => {
    let proto = pick([TCP, UDP, ICMP]);
    const kind = pick(['masq', 'dnat', 'snat', 'lb'] as const);
    const sp = 1000 + Math.floor(rand() * 8);
    if (kind === 'lb') {
      proto = TCP;
      const orig = { s: ip(`10.0.${4 + Math.floor(rand() * 4)}.${1 + Math.floor(rand() * 20)}`), d: OUT_ADDR, sp, dp: 80 };
      return { proto, orig, kind, inIf: OUT, outIf: IN, wire: null, sent: 0 };
    }
    if (kind === 'dnat') {
      const orig = { s: ip(`10.0.${Math.floor(rand() * 4)}.${1 + Math.floor(rand() * 20)}`), d: OUT_ADDR, sp, dp: proto === ICMP ? sp : 5000 + Math.floor(rand() * 4) };
      return { proto, orig, kind, inIf: OUT, outIf: IN, wire: null, sent: 0 };
    }
    const orig = { s: ip(`192.168.0.${2 + Math.floor(rand() * 30)}`), d: ip(`8.8.${Math.floor(rand() * 3)}.${1 + Math.floor(rand() * 3)}`), sp, dp: proto === ICMP ? sp : 53 };
    return { proto, orig, kind, inIf: IN, outIf: kind === 'masq' ? OUT : OUT2, wire: null, sent: 0 };
  };

  const sendOrig = (fl: Flow) => {
    const f = frameOf(fl.proto, fl.orig, fl.sent === 0, false);
    const p = pktOf(f, { inIf: fl.inIf });
    let v = nat.track(p);
    if (v === ACCEPT) {
      if (fl.kind === 'dnat' && p.ctState === 0 && p.daddr === OUT_ADDR) nat.dnat(p, SERVER, -1);
      p.outIf = fl.outIf;
      if (fl.kind === 'dnat' && p.ctState === 0 && rand() < 0.5) nat.snat(p, IN_ADDR, -1);
      if (fl.kind === 'snat' && p.ctState === 0) nat.snat(p, SNAT_ADDR, -1);
      v = nat.finish(p);
    }
    fl.sent++;
    if (v === ACCEPT) {
      passed++;
      fl.wire = { s: p.saddr, d: p.daddr, sp: p.sport, dp: p.dport };
      const bad = verifyFrame(f);
      if (bad.length) problems.push(`orig frame: ${bad.join(',')}`);
    } else {
      dropped++;
    }
  };

  const sendReply = (fl: Flow) => {
    const w = fl.wire!;
    const back = { s: w.d, d: w.s, sp: w.dp, dp: w.sp };
    const v0 = ct.find(back.s, back.d, back.sp, back.dp, fl.proto);
    const expectTranslated = v0 >= 0 && (v0 & 1) === DIR_REPLY && ct.oSrc(v0 >>> 1) === fl.orig.s && ct.oSp(v0 >>> 1) === fl.orig.sp;
    const f = frameOf(fl.proto, back, fl.sent === 1, true);
    const p = pktOf(f, { inIf: fl.outIf });
    const tcpInvalid = ct.counters[C_INVALID_TCP_STATE];
    let v = nat.track(p);
    if (v === ACCEPT) {
      p.outIf = fl.inIf;
      v = nat.finish(p);
    }
    replies++;
    if (expectTranslated && v !== ACCEPT && ct.counters[C_INVALID_TCP_STATE] > tcpInvalid) return;
    if (expectTranslated) {
      checkedReplies++;
      if (v !== ACCEPT) problems.push('reply of a live connection dropped');
      else if (p.saddr !== fl.orig.d || p.daddr !== fl.orig.s || p.sport !== fl.orig.dp || p.dport !== fl.orig.sp) {
        problems.push(`reply not translated back: got ${p.saddr}:${p.sport}>${p.daddr}:${p.dport}`);
      }
      const bad = verifyFrame(f);
      if (bad.length) problems.push(`reply frame: ${bad.join(',')}`);
    }
  };

  const checkPools = () => {
    const held = new Map<number, Set<number>>();
    for (let c = 0; c < ct.capacity; c++) {
      if (!ct.live[c]) continue;
      const k = nat.poolIndexOf(c);
      if (k < 0) continue;
      const port = nat.poolPortOf(c);
      let s = held.get(k);
      if (!s) { s = new Set(); held.set(k, s); }
      if (s.has(port)) problems.push(`pool ${k} port ${port} held twice`);
      s.add(port);
      if (!nat.pools[k]!.isTaken(port)) problems.push(`pool ${k} port ${port} held but marked free`);
    }
    let sessions = 0;
    for (let c = 0; c < ct.capacity; c++) if (ct.live[c] && nat.sessionOf(c) >= 0) sessions++;
    if (sessions !== lb.active) problems.push(`balancer counts ${lb.active} sessions, ${sessions} live`);
    if (lb.active > lb.sessionLimit) problems.push('session limit exceeded');
    const perNode = lb.stats().nodes.reduce((a, n) => a + n.active, 0);
    if (perNode !== lb.active) problems.push('per-node sessions do not add up');
    nat.pools.forEach((pool, k) => {
      if (!pool) return;
      const n = held.get(k)?.size ?? 0;
      if (n + pool.count !== pool.size) problems.push(`pool ${k}: ${n} held + ${pool.count} free != ${pool.size}`);
    });
  };

  const start = Date.now();
  while (Date.now() - start < BUDGET_MS && problems.length === 0) {
    steps++;
    const r = rand();
    if (r < 0.25 || flows.length === 0) {
      const fl = newFlow();
      flows.push(fl);
      if (flows.length > 400) flows.splice(Math.floor(rand() * flows.length), 1);
      sendOrig(fl);
    } else if (r < 0.6) {
      sendOrig(pick(flows));
    } else if (r < 0.95) {
      const fl = pick(flows);
      if (fl.wire) sendReply(fl);
    } else {
      ct.tick(clock.advance(1 + Math.floor(rand() * 12)));
    }
    const err = ct.verify();
    if (err) problems.push(err);
    if (steps % 8 === 0) checkPools();
  }
  checkPools();
  t.same(problems.slice(0, 5), [], `seed ${seed}: no unreachable entries, no leaked ports, replies translated`);
  t.ok(steps > 500, `${steps} steps, ${passed} passed, ${dropped} dropped, ${replies} replies (${checkedReplies} checked)`);
  t.ok(checkedReplies > 50);
  const exhausted = nat.stats().poolExhausted;
  t.comment(`pool exhausted ${exhausted} times, clashes ${nat.stats().clashes}, entries ${ct.entries}, lb sessions ${nat.stats().lbNew} (refused ${lb.refused})`);
  t.ok(nat.stats().lbNew > 0, 'balancer exercised');

  ct.tick(clock.advance(4000));
  t.equal(ct.entries, 0, 'everything expires');
  t.equal(ct.verify(), null);
  for (const pool of nat.pools) if (pool) t.equal(pool.count, pool.size, 'every pool port back');
  t.equal(lb.active, 0, 'every balancer session ended');
});
