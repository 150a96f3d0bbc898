// `nacl-router show FILE [--json]`: the checked configuration as the router will run it:
// interfaces, routes, conntrack settings and each hook's chains with their rules and file:line.
// `--json` prints the Model itself (sorted keys). Exit codes as for `check`.

import type { Command } from '../cli.js';
import { modelJson, renderShow } from '../control/show.js';
import { checkFileArg } from './file-arg.js';

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
    const r = await checkFileArg('show', args, { '--json': 'json' }, '[--json]');
    if (typeof r === 'number') return r;
    const { model } = r;
    const json = r.opts.has('json');
    if (!model) return 1;
    process.stdout.write(json ? modelJson(model) : renderShow(model));
    return 0;
  },
};
