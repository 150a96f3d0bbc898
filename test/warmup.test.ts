// The JIT warm-up runs the real router (its own rules) on in-process links, then the router
// takes other links and nothing of the warm-up is left: no connection, NAT binding, neighbour,
// counter or log message; and it forwards (with NAT) on its new links as a fresh router does.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nodeFlags } from '../src/node-flags.js';
import { loadConfig } from '../src/config/index.js';
import { packetSpec } from '../src/control/packet-spec.js';
import { createLogger } from '../src/log/logger.js';
import { OfflineLinks, parseFrame } from '../src/offline.js';
import { Router } from '../src/router.js';
import { warmUp } from '../src/warmup.js';
import { parseIpv4, PROTO_UDP } from '../stack/wire/ipv4.js';
import { Pkt } from '../stack/wire/pkt.js';

const CONF = `
Iface a { index: 0, address: 10.61.1.1, netmask: 255.255.255.0 }
Iface b { index: 1, address: 10.61.2.1, netmask: 255.255.255.0, masquerade: true }
Gateway gw {
  forward: fw,
  a_net: { net: 10.61.1.0, netmask: 255.255.255.0, iface: a },
  b_net: { net: 10.61.2.0, netmask: 255.255.255.0, iface: b }
}
Filter::IP fw {
  if (ip.saddr == 172.16.0.1) { drop }
  log("forwarded ", ip.saddr, "\\n")
  accept
}
`;

const ip = (s: string): number => parseIpv4(s)!;

t.test('warm-up on the real router, then a fresh router on the real links', async (t) => {
  const { model } = loadConfig(CONF, 'warm.nacl');
  t.ok(model, 'configuration loads');
  const logs: string[] = [];
  const warm = new OfflineLinks(model!);
  const router = new Router(model!, {
    links: warm.routerSide, logger: createLogger({ level: 'silent', pretty: false }), clock: () => 5_000_000,
    onLog: (_k, _s, msg) => logs.push(msg),
  });
  const w = await warmUp(router, warm, 100);
  t.ok(w.packets > 500, `${w.packets} packets in ${w.ms.toFixed(0)} ms`);
  t.ok(router.ct.stats().inserts > 100, `connections made (${router.ct.stats().inserts})`);
  t.ok(router.nat.stats().masquerade > 50, `masquerade ran (${router.nat.stats().masquerade})`);
  t.ok(router.ruleset.counters.packets.some((n) => n > 0), 'the real rules ran');
  t.same(logs, [], 'no log message went out during the warm-up');
  t.equal(router.silent, false);

  const real = new OfflineLinks(model!);
  router.attachLinks(real.routerSide);
  const s = router.stack.snapshot();
  t.equal(router.ct.entries, 0, 'no connections left');
  t.same(router.ct.stats(), { ...router.ct.stats(), inserts: 0, dropsFull: 0, expiries: 0, invalid: 0, related: 0 }, 'conntrack counters zero');
  t.ok(router.nat.stats().pools.every((p) => p.free === p.size), 'every pool port back');
  t.equal(router.nat.stats().masquerade, 0);
  t.ok(router.ruleset.counters.packets.every((n) => n === 0), 'rule counters zero');
  t.same(s.fate, { rx: 0, forwarded: 0, delivered: 0, dropped: 0, queued: 0 }, 'stack counters zero');
  t.ok(router.stack.ifaces.every((f) => f.neighbors.live(5_000_000) === 0), 'no neighbours');
  t.same([...router.stack.ifaces[0]!.mac], [...real.routerSide[0]!.mac], 'the Iface took its new link\'s MAC');

  real.start(router);
  const spec = packetSpec({ proto: PROTO_UDP, saddr: ip('10.61.1.10'), daddr: ip('10.61.2.10'), sport: 5000, dport: 53, inIface: 'a' });
  const f = real.frame(router, model!, spec, 0);
  if (typeof f === 'string') throw new Error(f);
  real.inject(0, f.frame);
  real.settle();
  const p = new Pkt();
  const udp = real.hosts[1]!.frames.filter((fr) => parseFrame(fr, p) !== null && p.proto === PROTO_UDP);
  t.equal(udp.length, 1, 'forwarded on the new links');
  parseFrame(udp[0]!, p);
  t.equal(p.saddr, ip('10.61.2.1'), 'masqueraded');
  t.equal(p.sport, 5000, 'source port kept: the warm-up holds no binding');
  t.same(logs, ['forwarded 10.61.1.10'], 'log actions work again');
  const f2 = router.stack.snapshot().fate;
  t.equal(f2.rx, f2.forwarded + f2.delivered + f2.dropped + f2.queued, 'fate ledger adds up');
  t.end();
});

t.test('the classifier lookup is optimized after the warm-up, whatever the rules', async (t) => {
  // In node started with the router's flags (bin/nacl-router.js), V8's own view of the shared
  // lookup: a configuration without classified rules still leaves it compiled for a reload.
  const dist = (f: string): string => fileURLToPath(new URL(`../dist/${f}`, import.meta.url));
  const src = `
    const { warmClassifier } = await import(${JSON.stringify(dist('src/warmup.js'))});
    const { Classifier } = await import(${JSON.stringify(dist('filters/classifier.js'))});
    const before = %GetOptimizationStatus(Classifier.prototype.match);
    const found = warmClassifier();
    console.log(JSON.stringify({ before, after: %GetOptimizationStatus(Classifier.prototype.match), found }));`;
  const out = execFileSync(process.execPath, [...nodeFlags(), '--allow-natives-syntax', '--input-type=module', '-e', src], { encoding: 'utf8' });
  const r = JSON.parse(out) as { before: number; after: number; found: number };
  const OPTIMIZED = 16; // V8's OptimizationStatus::kOptimized
  t.equal(r.before & OPTIMIZED, 0, 'cold before');
  t.equal(r.after & OPTIMIZED, OPTIMIZED, `optimized after (status ${r.after.toString(2)})`);
  t.ok(r.found > 0, `the warm-up's lookups found rules (${r.found})`);
});
