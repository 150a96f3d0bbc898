// Child processes for the lab (end-to-end tests, the demo and the benchmark): one-shot commands
// run synchronously (sh) or without blocking the event loop (run, nsRun: what must not stop a
// link that is forwarding), optionally inside a network namespace, and background programs that
// announce readiness with a line on stdout. Every background process is registered so that
// stopAll() can end it on any exit path; a process is only ever signalled by its own pid.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

export interface ShOptions { allowFail?: boolean; timeout?: number }

/** Run a command to its end and return its stdout; throws with its stderr on failure (with
 *  allowFail: returns stdout + stderr). Blocks: not while a link needs the event loop. */
export function sh(cmd: string, args: string[], opts: ShOptions = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: opts.timeout ?? 20000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if (opts.allowFail) {
      const err = e as { stdout?: string; stderr?: string };
      return (err.stdout ?? '') + (err.stderr ?? '');
    }
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${err.stderr || err.message}`);
  }
}

/** Poll until pred() holds (it may be async); throws `timed out waiting for WHAT`. */
export async function waitFor(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 10000, stepMs = 50): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await pred()) return;
    await sleep(stepMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  /** Milliseconds before the command is killed (default 120 s). */
  timeoutMs?: number;
  /** Return a non-zero exit status instead of throwing. */
  allowFail?: boolean;
  cwd?: string;
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd: opts.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (err) => { clearTimeout(timer); reject(new Error(`${cmd}: ${err.message}`)); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const res = { code: code ?? (signal ? 128 : 1), stdout, stderr };
      if (res.code !== 0 && !opts.allowFail) {
        reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? code}): ${stderr.trim() || stdout.trim()}`));
      } else {
        resolve(res);
      }
    });
    child.stdin.on('error', () => { /* the command may exit before reading its input */ });
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs `cmd` inside network namespace `ns` (no namespace when ns is ''). */
export function nsRun(ns: string, cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return ns === '' ? run(cmd, args, opts) : run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const live = new Set<Background>();
let shuttingDown = false;

// Last resort: children still alive when this process exits are killed (each by its own pid).
process.on('exit', () => {
  for (const b of live) if (b.child.pid !== undefined) b.child.kill('SIGKILL');
});

/** A long-running child whose stdout is collected; waitFor() resolves on a matching line. */
export class Background {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number>;
  private exitCode: number | null = null;

  constructor(readonly label: string, cmd: string, args: string[], cwd?: string) {
    if (shuttingDown) throw new Error(`not starting ${label}: shutting down`);
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => { this.stdout += d; });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; });
    live.add(this);
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => { this.stderr += String(err); this.exitCode = 127; live.delete(this); resolve(127); });
      this.child.on('close', (code, signal) => {
        this.exitCode = code ?? (signal ? 128 : 1);
        live.delete(this);
        resolve(this.exitCode);
      });
    });
  }

  get running(): boolean {
    return this.exitCode === null;
  }

  /** Resolves once stdout (or stderr) contains `pattern`; rejects on exit or timeout. */
  async waitFor(pattern: RegExp, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.stdout) && !pattern.test(this.stderr)) {
      if (!this.running) throw new Error(`${this.label} exited (${this.exitCode}): ${this.stderr.trim()}`);
      if (Date.now() > deadline) throw new Error(`${this.label}: no ${pattern} within ${timeoutMs} ms`);
      await sleep(10);
    }
  }

  /** Waits up to timeoutMs for the process to end by itself, then signals it. */
  async finish(timeoutMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    const timer = setTimeout(() => this.stop(signal), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** SIGTERM, then SIGKILL after 3 s. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    if (this.running && this.child.pid !== undefined) {
      this.child.kill(signal);
      const kill = setTimeout(() => { if (this.running) this.child.kill('SIGKILL'); }, 3000);
      await this.exited;
      clearTimeout(kill);
    }
    return this.exited;
  }
}

export function background(label: string, ns: string, cmd: string, args: string[], cwd?: string): Background {
  return ns === ''
    ? new Background(label, cmd, args, cwd)
    : new Background(label, 'ip', ['netns', 'exec', ns, cmd, ...args], cwd);
}

/** Stops every background process; with `final`, no new ones may start afterwards. */
export async function stopAll(final = false): Promise<void> {
  if (final) shuttingDown = true;
  await Promise.all([...live].map((b) => b.stop()));
}

/** The last line of `text` that parses as a JSON object. */
export function lastJson<T>(text: string): T {
  const lines = text.trim().split('\n').reverse();
  for (const line of lines) {
    const s = line.trim();
    if (s.startsWith('{')) return JSON.parse(s) as T;
  }
  throw new Error(`no JSON result in output: ${text.slice(-300)}`);
}
