// The build worker: a thread of the router process that reads, parses, checks and compiles the
// configuration (src/control/build.ts), so the packet thread never waits for that work. It keeps
// the rule identities (ruleUnits) of the builds it made, to carry counters over and to print
// what a reload would change. Requests and answers (see reload.ts, its only client):
//   { id, cmd: 'build', file, gen, base, dryRun }  -> progress { id, phase }, then
//       { id, ok: true, build, carry } (build's buffers transferred), or
//       { id, ok: true, dryRun: true, diff, rules }, or { id, ok: false, error, diagnostics }
//   { id, cmd: 'keep', gens }                      -> forget the units of every other build
import { parentPort } from 'node:worker_threads';
import { readFile } from 'node:fs/promises';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { loadConfig, formatDiagnostics, type LoadTimings } from '../config/index.js';
import { diffUnits, formatDiff, ruleUnits, unitMapping, type RuleUnit } from '../config/rule-index.js';
import { buildOf, buildTransfer } from './build.js';

export interface BuildRequest { id: number; cmd: 'build'; file: string; gen: number; base: number; dryRun: boolean }
export interface KeepRequest { id: number; cmd: 'keep'; gens: number[] }

const units = new Map<number, RuleUnit[]>();
const port = parentPort!;

// The packet thread comes first: this thread runs at a lower CPU priority (Linux: a thread's
// nice value is its own), so a build competes with other work, never with forwarding.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (tid > 0) setPriority(tid, 10);
} catch { /* not Linux, or not allowed: the build just runs at normal priority */ }

async function build(r: BuildRequest): Promise<void> {
  const progress = (phase: string) => port.postMessage({ id: r.id, phase });
  const t0 = performance.now();
  progress('reading');
  let text: string;
  try {
    text = await readFile(r.file, 'utf8');
  } catch (e) {
    port.postMessage({ id: r.id, ok: false, error: `cannot read ${r.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    return;
  }
  const readMs = performance.now() - t0;
  progress('checking');
  const lt: LoadTimings = { parseMs: 0, checkMs: 0 };
  const { model, diagnostics } = loadConfig(text, r.file, lt);
  if (!model) {
    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    port.postMessage({ id: r.id, ok: false, error: `configuration invalid (${errors} error${errors === 1 ? '' : 's'}); old rules kept`, diagnostics: formatDiagnostics(diagnostics, text) });
    return;
  }
  const warnings = formatDiagnostics(diagnostics, text);
  const next = ruleUnits(model);
  const prev = units.get(r.base) ?? [];
  if (r.dryRun) {
    port.postMessage({ id: r.id, ok: true, dryRun: true, diff: formatDiff(diffUnits(prev, next)), warnings, rules: model.writtenRules, statements: model.rules.length });
    return;
  }
  progress('compiling');
  const b = buildOf(model, r.gen, { warnings, timings: { readMs, ...lt } });
  const carry = unitMapping(prev, next);
  units.set(r.gen, next);
  port.postMessage({ id: r.id, ok: true, build: b, carry, statements: model.rules.length }, [...buildTransfer(b), carry.buffer as ArrayBuffer]);
}

port.on('message', (msg: BuildRequest | KeepRequest) => {
  if (msg.cmd === 'keep') {
    for (const g of [...units.keys()]) if (!msg.gens.includes(g)) units.delete(g);
    return;
  }
  build(msg).catch((e: Error) => port.postMessage({ id: msg.id, ok: false, error: `internal error while building: ${e.message}` }));
});
