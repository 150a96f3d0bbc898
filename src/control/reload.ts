// Reloads of a running router, from SIGHUP or `ctl reload`, and its start-up build.
//
// The work happens in the build worker (build-worker.ts): reading, parsing, checking and
// compiling to a plan. The packet thread only receives the finished build (its arrays are
// transferred, not copied) and installs it between two batches (Router.prepare + install); the
// time that takes is the forwarding pause, logged as pauseMs with every reload. Reloads run one
// at a time, in the order asked. Every result is logged, success or failure, with its trigger,
// duration and rule count.
//
// `--dry-run` builds nothing: it checks the file and returns the rules that would be added,
// removed or changed. `--confirm S` installs the new rules and puts the old ones back after S
// seconds unless `ctl confirm` comes first (commit-confirm); while a confirm is pending, other
// reloads are refused.
import { Worker } from 'node:worker_threads';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log/logger.js';
import type { Build } from './build.js';
import type { Installed, Router } from '../router.js';

export type Trigger = 'SIGHUP' | 'ctl' | 'start';

export interface ReloadOptions { dryRun?: boolean; confirmS?: number }

export interface ReloadResult {
  ok: boolean;
  error?: string;
  diagnostics?: string;
  warnings?: string;
  /** Rules as written (`check` counts the same way) and statements compiled. */
  rules?: number;
  statements?: number;
  ms: number;
  /** Time the packet thread spent installing (the forwarding pause), ms. */
  pauseMs?: number;
  /** Longest the packet thread's event loop was blocked at once during the whole reload
   *  (receiving the build, installing, garbage collection), ms: the worst gap between batches. */
  loopMaxMs?: number;
  timings?: Build['timings'];
  /** Counters of this many unchanged rule statements were carried over. */
  carried?: number;
  diff?: string;
  confirmS?: number;
}

interface WorkerAnswer { id: number; phase?: string; ok?: boolean; error?: string; diagnostics?: string; build?: Build; carry?: Int32Array; dryRun?: boolean; diff?: string; warnings?: string; rules?: number; statements?: number }

function workerUrl(): URL {
  const js = new URL('./build-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return js;
  return new URL('./build-worker.ts', import.meta.url);
}

function inverse(carry: Int32Array): Int32Array {
  const out = new Int32Array(carry.length);
  for (let k = 0; k + 2 < carry.length; k += 3) {
    out[k] = carry[k + 1]!;
    out[k + 1] = carry[k]!;
    out[k + 2] = carry[k + 2]!;
  }
  return out;
}

function carriedCount(carry: Int32Array): number {
  let n = 0;
  for (let k = 2; k < carry.length; k += 3) n += carry[k]!;
  return n;
}

const ms = (x: number) => Math.round(x * 10) / 10;

export class ReloadManager {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (a: WorkerAnswer) => void; reject: (e: Error) => void; phase?: (p: string) => void }>();
  private queue: Promise<unknown> = Promise.resolve();
  private router: Router | null = null;
  private gen = 0;
  private pending: { prev: Installed; back: Int32Array; timer: NodeJS.Timeout; gen: number; deadline: number } | null = null;

  constructor(private readonly file: string, private readonly log: Logger) {}

  private spawn(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(workerUrl());
    w.on('message', (a: WorkerAnswer) => {
      const wait = this.waiting.get(a.id);
      if (!wait) return;
      if (a.phase !== undefined) {
        wait.phase?.(a.phase);
        return;
      }
      this.waiting.delete(a.id);
      if (this.waiting.size === 0) w.unref();
      wait.resolve(a);
    });
    const fail = (e: Error) => {
      this.worker = null;
      for (const w2 of this.waiting.values()) w2.reject(e);
      this.waiting.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`build worker exited (${code})`)));
    w.unref();
    this.worker = w;
    return w;
  }

  private ask(req: Record<string, unknown>, phase?: (p: string) => void): Promise<WorkerAnswer> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, phase });
      const w = this.spawn();
      // Referenced while it works for us, so a pending build keeps the process alive.
      w.ref();
      w.postMessage({ ...req, id });
    });
  }

  /** The start-up build (generation 1); throws with the diagnostics when the file is invalid. */
  async initial(): Promise<Build & { statements: number }> {
    const a = await this.ask({ cmd: 'build', file: this.file, gen: 1, base: 0, dryRun: false });
    if (!a.ok || !a.build) throw Object.assign(new Error(a.error ?? 'build failed'), { diagnostics: a.diagnostics });
    this.gen = 1;
    return Object.assign(a.build, { statements: a.statements ?? 0 });
  }

  attach(router: Router): void {
    this.router = router;
    this.gen = router.gen;
  }

  /** Queued behind any reload already running. */
  reload(trigger: Trigger, opts: ReloadOptions = {}, phase?: (p: string) => void): Promise<ReloadResult> {
    const run = this.queue.then(() => this.run(trigger, opts, phase));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(trigger: Trigger, opts: ReloadOptions, phase?: (p: string) => void): Promise<ReloadResult> {
    const t0 = performance.now();
    const router = this.router;
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const done = (r: Omit<ReloadResult, 'ms'>): ReloadResult => {
      loop.disable();
      const res: ReloadResult = { ...r, ms: ms(performance.now() - t0) };
      if (res.pauseMs !== undefined) res.loopMaxMs = ms(loop.max / 1e6);
      const fields = { trigger, file: this.file, ms: res.ms, rules: res.rules, statements: res.statements, pauseMs: res.pauseMs, loopMaxMs: res.loopMaxMs, carried: res.carried,
        readMs: res.timings && ms(res.timings.readMs), parseMs: res.timings && ms(res.timings.parseMs), checkMs: res.timings && ms(res.timings.checkMs), compileMs: res.timings && ms(res.timings.compileMs) };
      if (!res.ok) this.log.error({ ...fields, err: res.error }, opts.dryRun ? 'reload dry run failed' : 'reload failed; old rules kept');
      else if (opts.dryRun) this.log.info(fields, 'reload dry run: nothing applied');
      else this.log.info({ ...fields, confirmS: res.confirmS }, res.confirmS ? `reloaded; rolls back in ${res.confirmS} s unless confirmed` : 'reloaded');
      return res;
    };
    if (!router) return done({ ok: false, error: 'the router is not running yet' });
    if (this.pending && !opts.dryRun) return done({ ok: false, error: `a reload is waiting for 'ctl confirm' (it rolls back in ${Math.ceil((this.pending.deadline - Date.now()) / 1000)} s otherwise): confirm it or let it roll back first` });
    let a: WorkerAnswer;
    try {
      a = await this.ask({ cmd: 'build', file: this.file, gen: this.gen + 1, base: this.gen, dryRun: opts.dryRun === true }, phase);
    } catch (e) {
      return done({ ok: false, error: (e as Error).message });
    }
    if (!a.ok) return done({ ok: false, error: a.error, diagnostics: a.diagnostics });
    if (a.dryRun) return done({ ok: true, diff: a.diff, warnings: a.warnings, rules: a.rules, statements: a.statements });
    const b = a.build!;
    const carry = a.carry ?? new Int32Array(0);
    phase?.('installing');
    // The packet thread's share: instantiate the plan and swap, between two batches.
    const p0 = performance.now();
    let next: Installed;
    const prev = router.installed();
    try {
      next = router.prepare(b);
      router.install(next, carry);
    } catch (e) {
      return done({ ok: false, error: (e as Error).message });
    }
    const pauseMs = ms(performance.now() - p0);
    const prevGen = this.gen;
    this.gen = b.gen;
    const base = { ok: true, rules: b.config.writtenRules, statements: a.statements, pauseMs, timings: b.timings, carried: carriedCount(carry), warnings: b.warnings };
    if (opts.confirmS && opts.confirmS > 0) {
      const timer = setTimeout(() => this.rollback(), opts.confirmS * 1000);
      this.pending = { prev, back: inverse(carry), timer, gen: prevGen, deadline: Date.now() + opts.confirmS * 1000 };
      this.ask({ cmd: 'keep', gens: [prevGen, b.gen] }).catch(() => undefined);
      return done({ ...base, confirmS: opts.confirmS });
    }
    this.ask({ cmd: 'keep', gens: [b.gen] }).catch(() => undefined);
    return done(base);
  }

  /** `ctl confirm`: keep the rules of the pending reload. */
  confirm(): { ok: boolean; message: string } {
    const p = this.pending;
    if (!p) return { ok: false, message: 'no reload is waiting for confirmation' };
    clearTimeout(p.timer);
    this.pending = null;
    this.ask({ cmd: 'keep', gens: [this.gen] }).catch(() => undefined);
    this.log.info({ file: this.file }, 'reload confirmed');
    return { ok: true, message: 'reload confirmed: the new rules stay' };
  }

  private rollback(): void {
    const p = this.pending;
    const router = this.router;
    if (!p || !router) return;
    this.pending = null;
    const p0 = performance.now();
    router.install(p.prev, p.back);
    this.gen = p.gen;
    this.ask({ cmd: 'keep', gens: [p.gen] }).catch(() => undefined);
    this.log.warn({ file: this.file, pauseMs: ms(performance.now() - p0), rules: p.prev.config.writtenRules }, 'reload not confirmed in time: previous rules restored');
  }

  close(): void {
    if (this.pending) clearTimeout(this.pending.timer);
    this.pending = null;
    void this.worker?.terminate();
    this.worker = null;
  }
}
