// `nacl-router show FILE [--json]`: the checked configuration as the router will run it:
// interfaces, routes, conntrack settings and each hook's chains with their rules and file:line.
// `--json` prints the Model itself (sorted keys). Exit codes as for `check`.

import type { Command } from '../cli.js';
import { formatDiagnostics, loadConfig } from '../config/index.js';
import { modelJson, renderShow } from '../control/show.js';
import { readSource } from '../config/source.js';

export const command: Command = {
  summary: 'print the checked configuration: interfaces, routes, chains and rules',
  help: `usage: nacl-router show [options] FILE

Checks the NaCl configuration FILE ('-' reads stdin) and prints it as nacl-router will run
it: interfaces, routes, conntrack and syslog settings, then every hook's chains with their
rules, each followed by # file:line. Called functions appear inlined as 'call NAME' blocks.

options:
  --json         print the checked model as JSON instead
  -h, --help     this text

exit status: 0 shown, 1 invalid configuration (diagnostics on stderr), 2 usage or I/O error`,
  async run(args: string[]): Promise<number> {
    let json = false;
    const files: string[] = [];
    for (const a of args) {
      if (a === '--json') json = true;
      else if (a.startsWith('-') && a !== '-') {
        process.stderr.write(`nacl-router show: unknown option ${a}\n`);
        return 2;
      } else files.push(a);
    }
    if (files.length !== 1) {
      process.stderr.write('usage: nacl-router show [--json] FILE   (nacl-router show --help)\n');
      return 2;
    }
    const src = await readSource(files[0]);
    if ('error' in src) {
      process.stderr.write(`nacl-router show: ${src.error}\n`);
      return 2;
    }
    const { model, diagnostics } = loadConfig(src.text, src.name);
    process.stderr.write(formatDiagnostics(diagnostics, src.text));
    if (!model) return 1;
    process.stdout.write(json ? modelJson(model) : renderShow(model));
    return 0;
  },
};
