// The front half `check` and `show` share: boolean options, exactly one FILE ('-' = stdin),
// read and checked, diagnostics printed to stderr. Not a command itself (cli.ts lists those).
import { formatDiagnostics, loadConfig } from '../config/index.js';
import { readSource } from '../config/source.js';
import type { Model } from '../config/model.js';
import type { Diagnostic } from '../config/model.js';

export interface CheckedFile {
  /** Canonical names of the options given. */
  opts: Set<string>;
  name: string;
  model: Model | null;
  diagnostics: Diagnostic[];
}

/** `options` maps each accepted spelling to its canonical name. Returns 2 (usage or I/O error,
 *  already reported) or the checked file. */
export async function checkFileArg(cmd: string, args: string[], options: Record<string, string>, usage: string): Promise<CheckedFile | number> {
  const opts = new Set<string>();
  const files: string[] = [];
  for (const a of args) {
    if (Object.hasOwn(options, a)) opts.add(options[a]!);
    else if (a.startsWith('-') && a !== '-') {
      process.stderr.write(`nacl-router ${cmd}: unknown option ${a}\n`);
      return 2;
    } else files.push(a);
  }
  if (files.length !== 1) {
    process.stderr.write(`usage: nacl-router ${cmd} ${usage} FILE   (nacl-router ${cmd} --help)\n`);
    return 2;
  }
  const src = await readSource(files[0]!);
  if ('error' in src) {
    process.stderr.write(`nacl-router ${cmd}: ${src.error}\n`);
    return 2;
  }
  const { model, diagnostics } = loadConfig(src.text, src.name);
  process.stderr.write(formatDiagnostics(diagnostics, src.text));
  return { opts, name: src.name, model, diagnostics };
}
