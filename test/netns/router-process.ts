// Starts the real router process for end-to-end tests and waits until its links exist.
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { Lab, ROOT, sh, waitFor } from '../../lab/netlab.js';

let seq = 0;
const BIN = join(ROOT, 'bin', 'nacl-router.js');

export interface RouterProc {
  out(): string;
  /** Its control socket (for `nacl-router ctl --socket`). */
  ctl: string;
  /** Run `nacl-router ctl --socket <ctl> CMD [ARGS]` and return its stdout. */
  ctlCmd(cmd: string, ...args: string[]): string;
  /** The same without blocking: stdout, exit status and when it finished (ms since epoch). */
  ctlAsync(cmd: string, ...args: string[]): Promise<{ out: string; err: string; code: number | null; at: number }>;
  pid: number;
  /** Stop with SIGTERM and return everything it printed (counters come last). */
  stop(): Promise<string>;
}

/** Run `nacl-router run FILE --link ...` (links like `0=tap:NAME`), wait for the named TAP/links. */
export async function startRouter(lab: Lab, file: string, links: string[], waitLinks: string[], extra: string[] = [], startMs = 60_000): Promise<RouterProc> {
  const ctl = join(tmpdir(), `nacl-ctl-${process.pid}-${seq++}.sock`);
  const args = ['run', file, '--ctl', ctl];
  for (const l of links) args.push('--link', l);
  args.push(...extra);
  // The bin itself, as a user starts it: its first line sets node's flags.
  const p = lab.spawn(null, BIN, args, { ...process.env, NACL_LOG_LEVEL: 'debug' });
  try {
    await waitFor(`router links ${waitLinks.join(',')}`, () => {
      if (p.exitCode !== null) throw new Error(`router exited early (${p.exitCode}):\n${p.out()}`);
      return waitLinks.every((l) => lab.linkExists(l));
    }, startMs);
    await waitFor('router running', () => {
      if (p.exitCode !== null) throw new Error(`router exited early (${p.exitCode}):\n${p.out()}`);
      return /running|started/.test(p.out());
    }, startMs);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- router output ---\n${p.out()}`);
  }
  return {
    out: () => p.out(),
    ctl,
    ctlCmd: (cmd: string, ...args: string[]) => sh(BIN, ['ctl', '--socket', ctl, cmd, ...args], { timeout: 600_000 }),
    ctlAsync: (cmd: string, ...args: string[]) => new Promise((resolve) => {
      const c = spawn(BIN, ['ctl', '--socket', ctl, '--timeout', '120', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      c.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      c.on('close', (code) => resolve({ out, err, code, at: Date.now() }));
    }),
    pid: p.pid ?? -1,
    stop: async () => {
      if (p.exitCode === null) {
        p.kill('SIGTERM');
        await new Promise<void>((r) => { if (p.exitCode !== null) r(); else p.once('exit', () => r()); });
      }
      return p.out();
    },
  };
}

/** The usual end-to-end topology: two host namespaces `${tag}h0` / `${tag}h1` and the router
 *  between them on TAP links 0 and 1, which it creates (put them in place with lab.attach). */
export async function routerBetween(lab: Lab, tag: string, file: string, extra: string[] = [], startMs = 60_000):
  Promise<{ router: RouterProc; hosts: [string, string]; taps: [string, string] }> {
  const hosts: [string, string] = [lab.ns(`${tag}h0`), lab.ns(`${tag}h1`)];
  const taps: [string, string] = [lab.name(`${tag}0`), lab.name(`${tag}1`)];
  const router = await startRouter(lab, file, [`0=tap:${taps[0]}`, `1=tap:${taps[1]}`], taps, extra, startMs);
  return { router, hosts, taps };
}
