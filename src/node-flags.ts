// The V8 flags the router runs with have one home: the first line of bin/nacl-router.js
// (`#!/usr/bin/env -S node --flag ...`), so starting that file sets them where node starts.
// Whatever starts node itself (the benchmark, the tests, the guest image's init, a systemd unit
// calling node) reads them from there: nodeFlags(). Why these flags: docs/operations.md.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../drivers/native.js';

/** The node options on the bin's shebang line ([] when the file or line is not there). */
export function nodeFlags(): string[] {
  let first: string;
  try {
    first = readFileSync(join(packageRoot(), 'bin', 'nacl-router.js'), 'utf8').split('\n', 1)[0]!;
  } catch {
    return [];
  }
  const m = /^#!\S*env -S node((?:\s+--\S+)*)\s*$/.exec(first);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
}

/** Flags of the shebang this process was started without. */
export function missingNodeFlags(): string[] {
  return nodeFlags().filter((f) => !process.execArgv.includes(f));
}

/** argv to start the router CLI with its flags: [node, ...flags, bin, ...args]. */
export function routerArgv(args: string[]): string[] {
  return [process.execPath, ...nodeFlags(), join(packageRoot(), 'bin', 'nacl-router.js'), ...args];
}
