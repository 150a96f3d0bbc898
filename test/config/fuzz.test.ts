// Time-bounded fuzzing (~4 s): random mutations and truncations of the fixtures and examples.
// loadConfig must never throw; every run ends in a model or in located errors.

import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, formatDiagnostics } from '../../src/config/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SEEDS = [
  ...readdirSync(join(ROOT, 'test/fixtures/nacl/valid')).filter((f) => f.endsWith('.nacl')).map((f) => join(ROOT, 'test/fixtures/nacl/valid', f)),
  ...readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.nacl')).map((f) => join(ROOT, 'examples', f)),
].map((p) => readFileSync(p, 'utf8'));

const BUDGET_MS = Number(process.env.FUZZ_MS ?? 4000);
const TOKENS = ['{', '}', '[', ']', '(', ')', ':', '::', ',', '.', '-', '/', '"', '#', '//', '/*', '*/', '==', '!=', '<', '>=',
  ' in ', ' and ', ' or ', ' not ', '!', '&&', '||', 'if', 'else', 'accept', 'drop', 'dnat(1)', 'Filter::TCP {', 'Nat::IP x {',
  'ip.ttl', 'tcp.dport', 'ct.state', 'eth0', '10.0.0.1', '10.0.0.0/24', '1-2', '(-1)', '1.5', 'true', 'x', '\n', ' ', '\u00e9', ';'];

// Small deterministic PRNG so a failure can be replayed from its seed.
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 0x100000000;
  };
}

function mutate(src: string, r: () => number): string {
  let s = src;
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * (s.length + 1));
    const op = Math.floor(r() * 5);
    if (op === 0) s = s.slice(0, at); // truncate
    else if (op === 1) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 20)); // delete
    else if (op === 2) s = s.slice(0, at) + TOKENS[Math.floor(r() * TOKENS.length)] + s.slice(at); // insert
    else if (op === 3) { // duplicate a slice
      const len = Math.floor(r() * 200);
      s = s.slice(0, at) + s.slice(at, at + len) + s.slice(at);
    } else { // swap two lines
      const lines = s.split('\n');
      const a = Math.floor(r() * lines.length);
      const b = Math.floor(r() * lines.length);
      [lines[a], lines[b]] = [lines[b], lines[a]];
      s = lines.join('\n');
    }
  }
  return s;
}

t.test('mutated and truncated inputs never crash the checker', async (t) => {
  const start = Date.now();
  let runs = 0;
  let valid = 0;
  let failures = 0;
  for (let seed = 1; Date.now() - start < BUDGET_MS; seed++) {
    const r = rng(seed);
    const text = mutate(SEEDS[seed % SEEDS.length], r);
    runs++;
    try {
      const { model, diagnostics } = loadConfig(text, 'fuzz.nacl');
      const errors = diagnostics.filter((d) => d.severity === 'error');
      const lines = text.split('\n').length;
      const located = errors.every((d) => d.loc.line >= 1 && d.loc.line <= lines && d.loc.col >= 1 && d.length >= 1);
      formatDiagnostics(diagnostics, text);
      if (model) valid++;
      if ((model === null) !== (errors.length > 0) || !located) {
        failures++;
        if (failures <= 5) t.fail(`seed ${seed}: model=${model !== null} errors=${errors.length} located=${located}`, { diagnostics: JSON.stringify(errors.map((d) => [d.loc, d.length, d.message])), lines });
      }
    } catch (e) {
      failures++;
      if (failures <= 5) t.fail(`seed ${seed} threw: ${(e as Error).stack}`);
    }
  }
  t.equal(failures, 0, `${runs} runs, ${valid} valid, all others rejected with located errors`);
  t.comment(`fuzz: ${runs} inputs in ${Date.now() - start} ms, ${valid} valid`);
});
