// Builds the harness' C programs (bench/ref/*.c) with gcc into a cache directory under the
// system temp dir, keyed by a hash of the source, so a fresh clone needs nothing but gcc.
// The sources are found relative to the package root, whether running from bench/ (TS
// loader) or from build/bench/ (compiled with tsconfig.tools.json).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../lab/proc.js';
import { packageRoot } from '../drivers/native.js';

export const PROGRAMS = ['tapfwd', 'udpgen', 'udpsink'] as const;
export type Program = (typeof PROGRAMS)[number];
export type Programs = Record<Program, string>;

/** The package root (where bench/, bin/ and dist/ are). */
export const repoRoot = (): string => packageRoot();

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
