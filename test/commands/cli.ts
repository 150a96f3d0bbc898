// Helper for command tests: runs the real CLI entry (src/cli.ts main) in-process with the given
// arguments and stdin text, collecting what it writes to stdout and stderr and its exit status.
// (Child processes would recompile the TypeScript sources for every call.)
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { main } from '../../src/cli.js';

export const REPO = join(import.meta.dirname, '..', '..');

export async function cli(args: string[], input = ''): Promise<{ status: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const origOut = process.stdout.write;
  const origErr = process.stderr.write;
  const stdinDesc = Object.getOwnPropertyDescriptor(process, 'stdin');
  const cwd = process.cwd();
  process.chdir(REPO);
  Object.defineProperty(process, 'stdin', { value: Readable.from([Buffer.from(input)]), configurable: true });
  process.stdout.write = ((chunk: string | Uint8Array) => { out.push(String(chunk)); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => { err.push(String(chunk)); return true; }) as typeof process.stderr.write;
  try {
    const status = await main(args);
    return { status, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = origOut;
    process.stderr.write = origErr;
    if (stdinDesc) Object.defineProperty(process, 'stdin', stdinDesc);
    process.chdir(cwd);
  }
}
