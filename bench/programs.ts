// Builds the harness' C programs (bench/ref/*.c) with gcc into a cache directory under the
// system temp dir, keyed by a hash of the source, so a fresh clone needs nothing but gcc.
// The sources are found relative to the repository root, whether running from bench/ (TS
// loader) or from dist/bench/ (compiled).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './proc.js';

export const PROGRAMS = ['tapfwd', 'udpgen', 'udpsink'] as const;
export type Program = (typeof PROGRAMS)[number];
export type Programs = Record<Program, string>;

/** The repository root (the directory holding package.json above this module). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bench'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new Error('bench: repository root not found');
}

export async function buildPrograms(): Promise<Programs> {
  const src = join(repoRoot(), 'bench', 'ref');
  const out = join(tmpdir(), 'nacl-router-bench');
  mkdirSync(out, { recursive: true });
  const result = {} as Programs;
  for (const name of PROGRAMS) {
    const file = join(src, `${name}.c`);
    const hash = createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 12);
    const bin = join(out, `${name}-${hash}`);
    if (!existsSync(bin)) {
      const tmp = `${bin}.${process.pid}`;
      await run('gcc', ['-O2', '-Wall', '-o', tmp, file]);
      renameSync(tmp, bin);
    }
    result[name] = bin;
  }
  return result;
}
