// A small lab of real hosts for the demo, the end-to-end tests and the benchmark: network
// namespaces, links, real client/server processes and the router process. Everything a Lab makes
// is removed by cleanup() (namespaces deleted, processes killed), which tests register as a
// teardown so it runs even when they fail. Names carry the pid so parallel runs never collide.
// Test infrastructure: not part of the product (dist/ does not hold it).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../drivers/native.js';
import { nsRun, sh, sleep, waitFor, type RunOptions, type RunResult } from './proc.js';

export { sh, sleep, waitFor };

/** The package root. */
export const ROOT = packageRoot();

export const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
export const HAS_TUN = existsSync('/dev/net/tun');

/** Why end-to-end tests cannot run here, or null when they can. */
export function skipReason(): string | null {
  if (!IS_ROOT) return 'needs root';
  if (!HAS_TUN) return 'needs /dev/net/tun';
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli.js'))) return 'needs the build (npm run build)';
  return null;
}

interface Teardown { teardown(fn: () => void | Promise<void>): void }

/** A set of namespaces and processes owned by one test. */
export class Lab {
  readonly tag: string;
  private namespaces: string[] = [];
  private procs: ChildProcess[] = [];
  private links: string[] = [];
  private dirs: string[] = [];

  constructor(t: Teardown | null, tag = '') {
    this.tag = `${tag}${process.pid % 100000}`;
    t?.teardown(() => this.cleanup());
  }

  /** A name unique to this lab, at most 15 characters (interface name limit). */
  name(base: string): string {
    return `${base}${this.tag}`.slice(0, 15);
  }

  ns(base: string): string {
    const n = this.name(base);
    sh('ip', ['netns', 'del', n], { allowFail: true });
    sh('ip', ['netns', 'add', n]);
    this.namespaces.push(n);
    sh('ip', ['-n', n, 'link', 'set', 'lo', 'up']);
    return n;
  }

  /** Run a command inside a namespace and return its stdout. */
  exec(ns: string, cmd: string, args: string[], opts: { allowFail?: boolean; timeout?: number } = {}): string {
    return sh('ip', ['netns', 'exec', ns, cmd, ...args], opts);
  }

  /** Run a command inside a namespace without blocking the event loop (a link in this
   *  process keeps forwarding meanwhile). */
  run(ns: string, cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return nsRun(ns, cmd, args, { allowFail: true, ...opts });
  }

  /** Exit status of a command inside a namespace (no throw). */
  status(ns: string, cmd: string, args: string[], timeout = 20000): number {
    try {
      execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: 'ignore', timeout });
      return 0;
    } catch (e) {
      const st = (e as { status?: number | null }).status;
      return typeof st === 'number' ? st : -1;
    }
  }

  /** Start a long-running process (in a namespace when ns is given); killed at teardown. */
  spawn(ns: string | null, cmd: string, args: string[], env?: NodeJS.ProcessEnv, opts: { stdin?: boolean } = {}): ChildProcess & { out: () => string } {
    const argv = ns ? ['netns', 'exec', ns, cmd, ...args] : args;
    const p = spawn(ns ? 'ip' : cmd, argv, { stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: env ?? process.env, detached: false });
    let out = '';
    p.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
    this.procs.push(p);
    return Object.assign(p, { out: () => out });
  }

  /** Move a link into a namespace, give it an address and bring it up. */
  attach(link: string, ns: string, cidr: string | null): void {
    sh('ip', ['link', 'set', link, 'netns', ns]);
    if (cidr) sh('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', link]);
    sh('ip', ['-n', ns, 'link', 'set', link, 'up']);
  }

  /** A veth pair in the root namespace (deleted at teardown if still there). */
  veth(a: string, b: string): void {
    sh('ip', ['link', 'del', a], { allowFail: true });
    sh('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
    this.links.push(a);
  }

  /** Wait until TCP (or UDP) sockets listen on all `ports` inside `ns`. */
  async listening(ns: string, ports: number[], udp = false, timeoutMs = 60000): Promise<void> {
    await waitFor(`listeners on ${ports.join(',')}`, () => {
      const ss = this.exec(ns, 'ss', [udp ? '-lunH' : '-ltnH'], { allowFail: true });
      return ports.every((p) => new RegExp(`:${p}\\s`).test(ss));
    }, timeoutMs);
  }

  /** A private temporary directory, removed at cleanup. */
  tmpdir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), `nacl-${prefix}-`));
    this.dirs.push(dir);
    return dir;
  }

  /** A real syslog daemon (rsyslogd) listening on UDP addr:port inside ns. It parses each
   *  RFC 5424 message and writes `severity|app-name|msgid|message` lines, read by lines(). */
  syslogReceiver(ns: string, addr: string, port: number): { lines(): string[] } {
    const dir = this.tmpdir('syslog');
    const out = join(dir, 'messages');
    writeFileSync(join(dir, 'rsyslog.conf'), [
      `global(workDirectory="${dir}")`,
      'module(load="imudp")',
      `input(type="imudp" address="${addr}" port="${port}")`,
      'template(name="fields" type="string" string="%syslogseverity-text%|%app-name%|%msgid%|%msg%\\n")',
      `*.* action(type="omfile" file="${out}" template="fields")`,
      '',
    ].join('\n'));
    this.spawn(ns, 'rsyslogd', ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'pid')]);
    return {
      lines: () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean) : []),
    };
  }

  linkExists(name: string, ns?: string): boolean {
    try {
      execFileSync('ip', ns ? ['-n', ns, 'link', 'show', name] : ['link', 'show', name], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }

  async cleanup(): Promise<void> {
    for (const p of this.procs.reverse()) {
      if (p.exitCode === null && p.signalCode === null) {
        p.kill('SIGTERM');
        const done = new Promise<void>((r) => p.once('exit', () => r()));
        await Promise.race([done, sleep(3000)]);
        if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      }
    }
    this.procs = [];
    for (const n of this.namespaces.reverse()) {
      // Kill anything still running in the namespace before deleting it.
      const pids = sh('ip', ['netns', 'pids', n], { allowFail: true }).split(/\s+/).filter(Boolean);
      for (const pid of pids) {
        try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
      }
      sh('ip', ['netns', 'del', n], { allowFail: true });
    }
    this.namespaces = [];
    for (const l of this.links) sh('ip', ['link', 'del', l], { allowFail: true });
    this.links = [];
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
    this.dirs = [];
  }
}

/** The seed firewall's two hosts (examples/seed.nacl), on links already moved nowhere yet:
 *  outside 10.0.0.1 (the upstream gateway) plus the bastion 10.55.1.1, inside 192.168.0.54
 *  (port-forward target), .10 (allowed host), .5 (not allowed), .231 (syslog receiver). */
export function seedHosts(lab: Lab, outside: string, inside: string, outsideLink: string, insideLink: string): void {
  lab.attach(outsideLink, outside, '10.0.0.1/24');
  lab.exec(outside, 'ip', ['addr', 'add', '10.55.1.1/32', 'dev', 'lo']);
  lab.exec(outside, 'ip', ['route', 'add', '192.168.0.0/24', 'via', '10.0.0.2']);
  lab.attach(insideLink, inside, '192.168.0.54/24');
  for (const a of ['192.168.0.10/24', '192.168.0.5/24', '192.168.0.231/24']) lab.exec(inside, 'ip', ['addr', 'add', a, 'dev', insideLink]);
  lab.exec(inside, 'ip', ['route', 'add', 'default', 'via', '192.168.0.1']);
}
