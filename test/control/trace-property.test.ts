// Property test: `trace` and the router cannot disagree. For random configurations (2-3
// Ifaces, Gateway routes or none, masquerade, stateful TCP, random chains with NAT and logs on
// every hook) and random packets (every protocol, fragments, TTL 1, broadcasts, the router's own
// addresses, established connections), a Tracer and a plain Router (no trace code, no
// observers) built from the same Model get the same frames in the same order, and for each:
//   trace's verdict and drop reason = the plain router's fate of the frame (its counters);
//   trace's egress Iface and NAT result = the forwarded frame on the plain router's links
//   (link, VLAN tag, addresses, ports, TTL);
//   trace's rule path = how much each rule counter of the plain router moved.
// Both routers keep their state from packet to packet (connections, NAT bindings, neighbours),
// so later packets meet established and translated connections too.

import t from 'tap';
import type { Hook, Model } from '../../src/config/model.js';
import { createLogger } from '../../src/log/logger.js';
import { Router } from '../../src/router.js';
import { Tracer, type PacketTuple } from '../../src/control/trace.js';
import { OfflineLinks, parseFrame, setUpConnection } from '../../src/offline.js';
import type { PacketSpec } from '../../src/control/packet-spec.js';
import { F_DELIVERED, F_DROPPED, F_FORWARDED } from '../../stack/counters.js';
import { Ipv4View } from '../../stack/wire/ipv4.js';
import { CT_ESTABLISHED, CT_NEW, Pkt } from '../../stack/wire/pkt.js';
import { REASON_NAMES } from '../../stack/wire/reason.js';
import { ModelBuilder, ip } from '../filters/model-builder.js';
import { Gen, rng } from '../filters/random.js';

const CASES = Number(process.env.NACL_TRACE_CASES ?? 3000);
const PER_MODEL = 25;
const HOOKS: Hook[] = ['prerouting', 'input', 'output', 'postrouting'];
const NETS = ['10.0.0', '10.0.1', '192.168.0'];

function randomModel(g: Gen): Model {
  const b = new ModelBuilder();
  const names: string[] = [];
  for (let i = 0, n = 1 + g.int(4); i < n; i++) {
    const isNat = g.chance(0.3);
    const body = g.stmts(b, 2, isNat, 1 + g.int(5));
    if (!isNat) body.push(g.chance(0.8) ? b.accept() : b.drop());
    b.fn(`f${i}`, isNat ? 'nat' : 'filter', g.pick(['ip', 'ip', 'tcp', 'udp', 'icmp'] as const), body);
    names.push(`f${i}`);
  }
  const chain = (): string[] => (g.chance(0.6) ? [] : Array.from({ length: 1 + g.int(2) }, () => g.pick(names)));
  const nIf = 2 + g.int(2);
  for (let i = 0; i < nIf; i++) {
    const chains: Partial<Record<Hook, string[]>> = {};
    for (const h of HOOKS) chains[h] = chain();
    const f = b.iface(`eth${i}`, ip(`${NETS[i]}.1`), 24, chains);
    f.masquerade = g.chance(0.25);
  }
  b.model.conntrack.statefulTcp = g.chance(0.3);
  if (g.chance(0.85)) {
    // Routes name some of the Ifaces (the others do not forward), sometimes a default route.
    const routes = b.model.ifaces.filter(() => g.chance(0.8))
      .map((i, k) => ({ net: ip(`${NETS[b.model.ifaces.indexOf(i)]}.0`), prefix: 24, nexthop: 0, iface: i.name, cost: k }));
    if (g.chance(0.5)) routes.push({ net: 0, prefix: 0, nexthop: ip('10.0.0.254'), iface: 'eth0', cost: 9 });
    b.gateway(chain(), routes);
    b.model.gateway!.sendTimeExceeded = g.chance(0.8);
  }
  return b.model;
}

function randomSpec(g: Gen, m: Model, id: number): PacketSpec {
  const s = g.packetSpec();
  const inIx = g.int(m.ifaces.length);
  const hosts = (ix: number): number[] => [ip(`${NETS[ix]}.9`), ip(`${NETS[ix]}.20`)];
  const odd = [...m.ifaces.map((i) => i.address!), ip('10.0.0.255'), 0xffffffff, ip('224.0.0.5'), ip('8.8.8.8')];
  const r = g.r();
  s.saddr = r < 0.8 ? g.pick(hosts(inIx)) : r < 0.92 ? ip('8.8.8.8') : g.pick(odd);
  const d = g.r();
  const other = g.int(m.ifaces.length);
  const toRouter = d >= 0.55 && d < 0.7;
  s.daddr = d < 0.55 ? g.pick(hosts(other)) : toRouter ? g.pick(m.ifaces).address! : d < 0.85 ? ip('8.8.8.8') : g.pick(odd);
  if (toRouter && g.chance(0.6)) { s.proto = 1; s.len = null; }
  if (s.proto === 1 && g.chance(0.6)) s.icmpType = 8;
  if (s.proto === 6 && g.chance(0.6)) s.tcpFlags = 0x02;
  s.inIface = m.ifaces[inIx]!.name;
  s.ctState = g.chance(0.2) ? CT_ESTABLISHED : CT_NEW;
  s.id = id;
  if (g.chance(0.3) && s.len === null) s.len = (s.proto === 6 ? 40 : 28) + g.int(60);
  return s;
}

/** What the plain router did with one frame, read from its counters and links. */
interface Seen { verdict: 'accept' | 'drop'; local: boolean; reason: string | null; iface: string | null; out: PacketTuple | null }

const ip4 = new Ipv4View();

function plainOutcome(m: Model, links: OfflineLinks, router: Router, fate0: Float64Array, fate1: Float64Array, id: number): Seen {
  const c = router.stack.counters;
  const d = (f: number): number => fate1[f] - fate0[f];
  if (d(F_DROPPED) > 0) return { verdict: 'drop', local: false, reason: REASON_NAMES[c.lastFrameReason]!, iface: null, out: null };
  if (d(F_DELIVERED) > 0) return { verdict: 'accept', local: true, reason: null, iface: null, out: null };
  if (d(F_FORWARDED) === 0 && c.fate[F_FORWARDED] - fate0[F_FORWARDED] === 0) {
    return { verdict: 'drop', local: false, reason: c.fate[F_DROPPED] > fate0[F_DROPPED] ? REASON_NAMES[c.lastFrameReason]! : 'arp_queued', iface: null, out: null };
  }
  // Forwarded: find it on the links (its IP id is unique; the router's own packets have others).
  const p = new Pkt();
  for (let k = 0; k < links.hosts.length; k++) {
    for (const f of links.hosts[k]!.frames) {
      const vlan = parseFrame(f, p);
      if (vlan === null) continue;
      const h = ip4.reset(f, p.l3, p.ipLen);
      if (h.id !== id) continue;
      const ix = m.ifaces.findIndex((i, n) => (i.vlan ?? -1) === vlan && router.stack.ifaces[n]!.link === k);
      return {
        verdict: 'accept', local: false, reason: null, iface: ix >= 0 ? m.ifaces[ix]!.name : `link ${k}`,
        out: { proto: p.proto, saddr: p.saddr, daddr: p.daddr, sport: p.sport, dport: p.dport, ttl: h.ttl },
      };
    }
  }
  return { verdict: 'accept', local: false, reason: null, iface: 'not found on any link', out: null };
}

/** Masquerade takes ports from a pool in random order (each router has its own): a source
 *  port (an echo id) that a pool gave is compared as "a pool port". */
function pooled(out: PacketTuple | null, spec: PacketSpec): void {
  if (out === null) return;
  const fromPool = (port: number): boolean => port !== spec.sport && port >= 32768 && port <= 60999;
  if (fromPool(out.sport)) {
    if (out.proto === 1 && out.dport === out.sport) out.dport = -1;
    out.sport = -1;
  }
}

t.test('trace and the router agree on verdict, egress Iface, NAT result and rule path', (t) => {
  let cases = 0, models = 0, seed = 1;
  const tally = { forwarded: 0, local: 0, dropped: 0, nat: 0, rules: 0 };
  const reasons = new Map<string, number>();
  const fail = (msg: string, extra: object): void => { t.fail(msg, extra); };
  let failures = 0;
  while (cases < CASES && failures === 0) {
    const g = new Gen(rng(seed));
    const model = randomModel(g);
    const tracer = new Tracer(model);
    const links = new OfflineLinks(model);
    const plain = new Router(model, { links: links.routerSide, logger: createLogger({ level: 'silent', pretty: false }), clock: () => 1_000_000 });
    links.start(plain);
    models++;
    for (let k = 0; k < PER_MODEL && failures === 0; k++, cases++) {
      const spec = randomSpec(g, model, 40000 + k);
      const tr = tracer.trace(spec);
      // The same frame through the plain router, from the same start state.
      const inIdx = links.ingress(model, spec) as number;
      setUpConnection(plain, spec);
      const built = links.frame(plain, model, spec, inIdx);
      if ('error' in tr || typeof built === 'string') { fail(`seed ${seed} packet ${k}: trace refused a valid packet`, { tr, built }); failures++; break; }
      for (const h of links.hosts) h.frames.length = 0;
      const counters0 = Float64Array.from(plain.ruleset.counters.packets);
      const fate0 = Float64Array.from(plain.stack.counters.fate);
      links.inject(inIdx, built.frame);
      const fate1 = Float64Array.from(plain.stack.counters.fate);
      links.settle();
      const want = plainOutcome(model, links, plain, fate0, fate1, spec.id);
      const rules = new Map<number, number>();
      plain.ruleset.counters.packets.forEach((v, id) => { if (v !== counters0[id]) rules.set(id, v - counters0[id]!); });
      const got = { verdict: tr.verdict, local: tr.local, reason: tr.reason, iface: tr.local ? null : tr.iface, out: tr.out };
      pooled(got.out, spec);
      pooled(want.out, spec);
      if (JSON.stringify(got) !== JSON.stringify(want) || JSON.stringify([...tr.rules].sort()) !== JSON.stringify([...rules].sort())) {
        fail(`seed ${seed} packet ${k}: trace and router disagree`, {
          got, want, traceRules: [...tr.rules].sort(), routerRules: [...rules].sort(), trace: tr.lines.join('\n'),
        });
        failures++;
        break;
      }
      if (tr.verdict === 'drop') { tally.dropped++; reasons.set(tr.reason!, (reasons.get(tr.reason!) ?? 0) + 1); } else if (tr.local) tally.local++; else tally.forwarded++;
      if (tr.out && (tr.out.saddr !== spec.saddr || tr.out.daddr !== spec.daddr || tr.out.sport !== spec.sport || tr.out.dport !== spec.dport) &&
        spec.proto !== 1 && spec.fragOff === 0) tally.nat++;
      if (tr.rules.size > 0) tally.rules++;
    }
    seed++;
  }
  t.equal(failures, 0, `${cases} packets through ${models} random configurations agree`);
  t.ok(cases >= CASES, `at least ${CASES} cases`);
  t.ok(tally.forwarded > cases / 10 && tally.local > cases / 50 && tally.dropped > cases / 10,
    `every fate exercised: ${tally.forwarded} forwarded, ${tally.local} delivered, ${tally.dropped} dropped`);
  t.ok(tally.nat > cases / 50, `${tally.nat} forwarded packets translated`);
  t.ok(tally.rules > cases / 4, `${tally.rules} packets met rules`);
  for (const r of ['chain_forward', 'ttl_exceeded', 'forward_disabled', 'conn_track', 'ip_bad_source']) {
    t.ok(reasons.has(r), `drop reason ${r} exercised`);
  }
  t.comment(`drop reasons seen: ${[...reasons].sort().map(([r, n]) => `${r} ${n}`).join(', ')}`);
  t.end();
});
