// `nacl-router check FILE`: parse and check a NaCl file without touching the network.
// Exit 0 when valid (warnings are printed to stderr), 1 when invalid (diagnostics on stderr),
// 2 on usage or I/O errors. `-` reads the configuration from stdin.

import type { Command } from '../cli.js';
import { checkFileArg } from './file-arg.js';

export const command: Command = {
  summary: 'check a NaCl file and report every error and warning (like nft -c)',
  help: `usage: nacl-router check [options] FILE

Parses and checks the NaCl configuration FILE ('-' reads stdin) and reports every error
(up to 20) as FILE:LINE:COL: error: MESSAGE with the source line, a caret under the
offending token and, where it helps, a hint. Warnings (suspicious but valid input) are
printed the same way. Nothing is started.

options:
  -q, --quiet    print only diagnostics, no summary line
  -h, --help     this text

exit status: 0 valid (warnings allowed), 1 invalid, 2 usage or I/O error`,
  async run(args: string[]): Promise<number> {
    const r = await checkFileArg('check', args, { '-q': 'quiet', '--quiet': 'quiet' }, '[options]');
    if (typeof r === 'number') return r;
    const { model, diagnostics } = r;
    const quiet = r.opts.has('quiet');
    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    const warnings = diagnostics.length - errors;
    if (!model) {
      if (!quiet) process.stderr.write(`${r.name}: invalid (${errors} error${errors === 1 ? '' : 's'}${errors >= 20 ? ', stopped at 20' : ''})\n`);
      return 1;
    }
    if (!quiet) {
      const fns = Object.keys(model.functions).length;
      process.stdout.write(`${r.name}: valid (${model.ifaces.length} interfaces, ${fns} functions, ${model.writtenRules} rules, ${warnings} warning${warnings === 1 ? '' : 's'})\n`);
    }
    return 0;
  },
};
