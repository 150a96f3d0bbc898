// Reads the configuration text named on the command line (`-` = stdin) for check, show and run.

import { readFile } from 'node:fs/promises';

export async function readSource(path: string): Promise<{ text: string; name: string } | { error: string }> {
  try {
    if (path === '-') {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return { text: Buffer.concat(chunks).toString('utf8'), name: '<stdin>' };
    }
    return { text: await readFile(path, 'utf8'), name: path };
  } catch (e) {
    return { error: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
}
