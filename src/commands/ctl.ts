// `nacl-router ctl`: talk to a running router over its control socket.
import type { Command } from '../cli.js';
import { ctlRequest, DEFAULT_CTL } from '../control/ctl.js';

const HELP = `usage: nacl-router ctl [--socket PATH] COMMAND

Talks to a running router (started with \`nacl-router run\`) over its control socket.
commands:
  show        the running ruleset with live per-rule packet/byte counters
  counters    interface, link, conntrack, NAT and rule counters (JSON)
  conntrack   the connection table (JSON)
  reload      re-read the configuration file and swap the rules in (connections are kept)
options:
  --socket PATH   control socket (default ${DEFAULT_CTL})`;

export const command: Command = {
  summary: 'query or reload a running router (show, counters, conntrack, reload)',
  help: HELP,
  async run(args) {
    let path = DEFAULT_CTL;
    let cmd: string | null = null;
    for (let i = 0; i < args.length; i++) {
      if (args[i] === '--socket') path = args[++i] ?? '';
      else if (cmd === null && !args[i].startsWith('-')) cmd = args[i];
      else { process.stderr.write(`nacl-router ctl: unexpected argument ${args[i]}\n${HELP}\n`); return 2; }
    }
    if (!cmd || !['show', 'counters', 'conntrack', 'reload'].includes(cmd)) {
      process.stderr.write(`nacl-router ctl: ${cmd ? `unknown command '${cmd}'` : 'no command given'}\n${HELP}\n`);
      return 2;
    }
    try {
      const r = await ctlRequest(path, { cmd });
      process.stdout.write(typeof r === 'string' ? r.endsWith('\n') ? r : `${r}\n` : `${JSON.stringify(r, null, 2)}\n`);
      return 0;
    } catch (e) {
      process.stderr.write(`nacl-router ctl: ${(e as Error).message}\n`);
      return 1;
    }
  },
};
