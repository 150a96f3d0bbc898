// Property test: compiled chains (with and without hash dispatch and the classifier, with and
// without trace) agree with the reference interpreter on random rule sets and packets: verdicts, NAT
// calls, log calls and per-rule counters. Time-bounded.

import t from 'tap';
import { compileRuleset } from '../../filters/compile.js';
import type { Hook } from '../../src/config/model.js';
import type { LogSink, NatActions, Pkt } from '../../stack/wire/pkt.js';
import { TraceRecorder } from '../../filters/trace.js';
import { ModelBuilder } from './model-builder.js';
import { Gen, rng } from './random.js';
import { Reference, type RefCall } from './reference.js';

const BUDGET_MS = Number(process.env.NACL_PROPERTY_MS ?? 4000);
const HOOKS: Hook[] = ['prerouting', 'input', 'output', 'postrouting'];

function recorder(calls: RefCall[]): { nat: NatActions; log: LogSink } {
  return {
    nat: {
      dnat: (_p: Pkt, a: number, b: number) => { calls.push({ kind: 'dnat', id: -1, a, b }); },
      snat: (_p: Pkt, a: number, b: number) => { calls.push({ kind: 'snat', id: -1, a, b }); },
    },
    log: { emit: (kind, severity, msg, id) => { calls.push({ kind, id, a: severity, b: 0, msg }); } },
  };
}

const norm = (cs: RefCall[]): string[] =>
  cs.map((c) => (c.kind === 'dnat' || c.kind === 'snat' ? `${c.kind} ${c.a} ${c.b}` : `${c.kind} ${c.id} ${c.a} ${JSON.stringify(c.msg)}`));

t.test('compiled chains agree with the reference interpreter', (t) => {
  const start = Date.now();
  let cases = 0, packets = 0, seed = 1;
  let failed = false;
  let dispatched = 0, classified = 0;
  while (Date.now() - start < BUDGET_MS && !failed) {
    const g = new Gen(rng(seed));
    const b = new ModelBuilder();
    const nfn = 1 + g.int(4);
    const names: string[] = [];
    for (let i = 0; i < nfn; i++) {
      const isNat = g.chance(0.25);
      const name = `f${i}`;
      const body = g.stmts(b, 2, isNat, 1 + g.int(6));
      if (!isNat && g.chance(0.8)) body.push(g.verdict(b, false));
      b.fn(name, isNat ? 'nat' : 'filter', g.pick(['ip', 'ip', 'tcp', 'udp', 'icmp'] as const), body);
      names.push(name);
    }
    const chains: Partial<Record<Hook, string[]>> = {};
    for (const h of HOOKS) chains[h] = Array.from({ length: g.int(4) }, () => g.pick(names));
    b.iface('eth0', 0x0a000001, 24, chains);
    b.gateway(Array.from({ length: g.int(3) }, () => g.pick(names)));
    const model = b.model;
    // 0: default, 1: no scaling, 2: trace, 3: trace without scaling
    const variant = seed % 4;
    const calls: RefCall[] = [];
    const rec = recorder(calls);
    const tr = new TraceRecorder();
    const rs = compileRuleset(model, {
      ...rec, scaling: variant % 2 === 0, trace: variant >= 2 ? tr : undefined, logLimit: { rate: 1e9, burst: 1e9 },
    });
    dispatched += rs.stats.dispatchRuns;
    classified += rs.stats.classifierRuns;
    const ref = new Reference(model, rs.ruleCount);
    const hooks = [...HOOKS.map((h) => [rs.ifaces[0]![h], model.ifaces[0]!.chains[h]] as const),
      [rs.forward, model.gateway!.forward] as const];
    for (let k = 0; k < 40 && !failed; k++) {
      const p = g.packet();
      for (const [fn, names] of hooks) {
        calls.length = 0;
        ref.calls = [];
        const got = fn(p);
        const want = ref.chain(names, p);
        packets++;
        const a = norm(calls), e = norm(ref.calls);
        if (got !== want || JSON.stringify(a) !== JSON.stringify(e)) {
          failed = true;
          t.fail(`seed ${seed} variant ${variant}: verdict ${got} vs ${want}`, { got: a, want: e });
          break;
        }
      }
    }
    if (!failed) {
      for (let i = 0; i < rs.ruleCount; i++) {
        if (rs.counters.packets[i] !== ref.packets[i] || rs.counters.bytes[i] !== ref.bytes[i]) {
          failed = true;
          t.fail(`seed ${seed} variant ${variant}: counter of rule ${i}: ${rs.counters.packets[i]}/${rs.counters.bytes[i]} vs ${ref.packets[i]}/${ref.bytes[i]}`);
          break;
        }
      }
    }
    cases++;
    seed++;
  }
  t.ok(!failed, `${cases} random rule sets, ${packets} packet-chain evaluations agree`);
  t.ok(cases >= 20, 'enough cases in the time budget');
  t.ok(dispatched > 0, `hash dispatch exercised (${dispatched} runs)`);
  t.ok(classified > 0, `classifier exercised (${classified} runs)`);
  t.end();
});
