// `nacl-router ctl`: talk to a running router over its control socket.
import type { Command } from '../cli.js';
import { ctlRequest, DEFAULT_CTL } from '../control/ctl.js';
import type { ReloadResult } from '../control/reload.js';

const HELP = `usage: nacl-router ctl [--socket PATH] COMMAND [options]

Talks to a running router (started with \`nacl-router run\`) over its control socket.
commands:
  show        the running ruleset with live per-rule packet/byte counters (streamed)
  counters    interface, link, conntrack, NAT and rule counters (JSON)
  conntrack   the connection table (JSON)
  reload      re-read the configuration file and swap the rules in (connections are kept);
              waits until the reload is done and prints its duration and the forwarding pause
    --dry-run         check the file and print the rules that would be added, removed or
                      changed (by location); nothing is applied
    --confirm SECONDS apply, and put the previous rules back after SECONDS unless
                      \`nacl-router ctl confirm\` comes first
  confirm     keep the rules of a \`reload --confirm\`
options:
  --socket PATH   control socket (default ${DEFAULT_CTL})
  --timeout S     give up after S seconds without any answer (default 30)`;

const COMMANDS = ['show', 'counters', 'conntrack', 'reload', 'confirm'];

function reloadText(r: ReloadResult, dryRun: boolean): string {
  if (dryRun) return `${r.warnings ?? ''}${r.diff ?? ''}nothing applied (dry run; ${r.rules} rules checked)\n`;
  const t = r.timings;
  const parts = [`reloaded: ${r.rules} rules (${r.statements} statements) in ${r.ms} ms`];
  if (t) parts.push(`read ${Math.round(t.readMs)} ms, parse ${Math.round(t.parseMs)} ms, check ${Math.round(t.checkMs)} ms, compile ${Math.round(t.compileMs)} ms`);
  parts.push(`forwarding pause ${r.pauseMs} ms (longest event-loop block ${r.loopMaxMs} ms), counters kept for ${r.carried} statements`);
  let out = `${r.warnings ?? ''}${parts.join('; ')}\n`;
  if (r.confirmS) out += `the previous rules come back in ${r.confirmS} s unless you run: nacl-router ctl confirm\n`;
  return out;
}

export const command: Command = {
  summary: 'query or reload a running router (show, counters, conntrack, reload, confirm)',
  help: HELP,
  async run(args) {
    let path = DEFAULT_CTL;
    let cmd: string | null = null;
    let dryRun = false;
    let confirm: number | undefined;
    let idleS = 30;
    const bad = (msg: string) => { process.stderr.write(`nacl-router ctl: ${msg}\n${HELP}\n`); return 2; };
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '--socket') path = args[++i] ?? '';
      else if (a === '--timeout') {
        idleS = Number(args[++i]);
        if (!(idleS > 0)) return bad('--timeout needs a number of seconds');
      } else if (a === '--dry-run') dryRun = true;
      else if (a === '--confirm') {
        confirm = Number(args[++i]);
        if (!Number.isInteger(confirm) || confirm! < 1 || confirm! > 86400) return bad('--confirm needs whole seconds (1-86400)');
      } else if (cmd === null && !a.startsWith('-')) cmd = a;
      else return bad(`unexpected argument ${a}`);
    }
    if (!cmd || !COMMANDS.includes(cmd)) return bad(cmd ? `unknown command '${cmd}'` : 'no command given');
    if ((dryRun || confirm !== undefined) && cmd !== 'reload') return bad('--dry-run and --confirm go with reload');
    if (dryRun && confirm !== undefined) return bad('--dry-run and --confirm exclude each other');
    const req: Record<string, unknown> = { cmd };
    if (dryRun) req.dryRun = true;
    if (confirm !== undefined) req.confirm = confirm;
    try {
      const r = await ctlRequest(path, req, {
        idleMs: idleS * 1000,
        onProgress: (p) => { if (process.stderr.isTTY) process.stderr.write(`${p}...\n`); },
        onChunk: cmd === 'show' ? (c) => { process.stdout.write(c); } : undefined,
      });
      if (cmd === 'show') return 0;
      if (cmd === 'reload') process.stdout.write(reloadText(r as ReloadResult, dryRun));
      else process.stdout.write(typeof r === 'string' ? r.endsWith('\n') ? r : `${r}\n` : `${JSON.stringify(r, null, 2)}\n`);
      return 0;
    } catch (e) {
      process.stderr.write(`nacl-router ctl: ${(e as Error).message}\n`);
      return 1;
    }
  },
};
