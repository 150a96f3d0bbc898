// nacl-router as the device under test, driven only through its CLI:
//   taskset -c DUT node FLAGS bin/nacl-router.js run FILE --link 0=tap:<p>a --link 1=tap:<p>b
// (FLAGS: the V8 flags of the bin's first line, as when the bin is started itself).
// The router creates both TAPs; once they exist the harness moves their kernel sides into the
// client and server namespaces and configures addresses and routes (the router answers ARP for
// 10.10.1.1 and 10.10.2.1 itself). The NaCl file comes from gen/rulesets.ts. Under the 'rt'
// policy only the router's main thread runs SCHED_FIFO (see setup). The router's poll mode
// (--busy-poll) is not used: a SCHED_FIFO thread that never sleeps loses the core for 50 ms of
// every second to the kernel's RT bandwidth control, and at CFS priority it loses to other work.
import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { naclRuleset } from '../gen/rulesets.js';
import { background, run, type Background } from '../../lab/proc.js';
import { repoRoot } from '../programs.js';
import { onCpu, RT } from '../sched.js';
import { waitForLink, type Topology } from '../topology.js';
import type { Dut, SetupInfo, SetupOptions } from './dut.js';
import { ctlRequest } from '../../src/control/ctl.js';
import { routerArgv } from '../../src/node-flags.js';

/** For experiments: NACL_BENCH_ROUTER_ARGS, extra `nacl-router run` options (e.g. --no-warmup);
 *  NACL_BENCH_NODE_FLAGS, extra node flags (e.g. --trace-deopt); NACL_BENCH_ROUTER_LOG, a file the
 *  router's whole output is appended to after each point. */
function extraRouterArgs(): string[] {
  return (process.env.NACL_BENCH_ROUTER_ARGS ?? '').split(/\s+/).filter(Boolean);
}
function extraNodeFlags(): string[] {
  return (process.env.NACL_BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
}

function findNative(dir: string, depth = 0): boolean {
  if (!existsSync(dir) || depth > 4) return false;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isFile() && e.name.endsWith('.node')) return true;
    if (e.isDirectory() && e.name !== 'node_modules' && findNative(join(dir, e.name), depth + 1)) return true;
  }
  return false;
}

export class NaclDut implements Dut {
  readonly id = 'nacl-router';
  readonly label = 'nacl-router';
  readonly usesRules = true;
  readonly supportsNat = true;
  private proc: Background | null = null;
  private dir: string | null = null;
  /** The router's output from the last run, for diagnostics. */
  lastOutput = '';

  constructor(private readonly startTimeoutMs = 120_000) {}

  async available(): Promise<string | null> {
    const root = repoRoot();
    if (!existsSync(join(root, 'dist', 'src', 'commands', 'run.js'))) {
      return 'dist/src/commands/run.js is missing (router not built yet: npm run build)';
    }
    if (!findNative(join(root, 'drivers', 'native'))) {
      return 'native driver not built (no drivers/native/**/*.node)';
    }
    return null;
  }

  async setup(topo: Topology, opts: SetupOptions): Promise<SetupInfo> {
    const root = repoRoot();
    const [a, b] = [`${topo.prefix}a`, `${topo.prefix}b`];
    this.dir = mkdtempSync(join(tmpdir(), 'nacl-bench-router-'));
    const file = join(this.dir, 'bench.nacl');
    writeFileSync(file, naclRuleset({ rules: opts.rules, nat: opts.nat, shape: opts.shape }));
    const start = process.hrtime.bigint();
    // Started at CFS priority: node is multi-threaded (V8 compiler and GC helpers), and with all
    // of its threads SCHED_FIFO on one core a thread waiting for a helper can stall for minutes.
    // Once the links exist only the main (packet loop) thread is raised, below.
    // node with the flags of the bin's first line (routerArgv), pinned and niced by onCpu.
    const [node, ...argv] = routerArgv(['run', file, '--link', `0=tap:${a}`, '--link', `1=tap:${b}`,
      '--ctl', join(this.dir, 'ctl.sock'), ...extraRouterArgs()]);
    const [cmd, args] = onCpu(topo.cpus.dut, 'nice', topo.cpus.dutNice, RT.dut, node!, [...extraNodeFlags(), ...argv]);
    this.proc = background('nacl-router', '', cmd, args, root);
    const proc = this.proc;
    try {
      await waitForLink(a, this.startTimeoutMs, () => proc.running);
      await waitForLink(b, 10_000, () => proc.running);
    } catch (err) {
      throw new Error(`${(err as Error).message}; router output: ${(proc.stderr + proc.stdout).trim().slice(-2000)}`);
    }
    const loadMs = Number(process.hrtime.bigint() - start) / 1e6;
    if (topo.cpus.sched === 'rt' && proc.child.pid !== undefined) {
      await run('chrt', ['-f', '-p', String(RT.dut), String(proc.child.pid)]);
    }
    // T8: a live reload of the same file through the control socket (read, check, compile, swap).
    // The socket appears once the router runs (after its JIT warm-up).
    const sock = join(this.dir, 'ctl.sock');
    for (let i = 0; i < 600 && !existsSync(sock) && proc.running; i++) await new Promise((r) => setTimeout(r, 50));
    let reloadMs: number | undefined;
    try {
      const t0 = process.hrtime.bigint();
      await ctlRequest(join(this.dir, 'ctl.sock'), { cmd: 'reload' }, 120_000);
      reloadMs = Number(process.hrtime.bigint() - t0) / 1e6;
    } catch {
      reloadMs = undefined;
    }
    await topo.moveTo(a, topo.client);
    await topo.moveTo(b, topo.server);
    await topo.configureEndpoint('client', a);
    await topo.configureEndpoint('server', b);
    return { loadMs, loadWhat: 'router start (check + compile + links)', reloadMs };
  }

  async teardown(_topo: Topology): Promise<void> {
    if (this.proc) {
      await this.proc.stop('SIGTERM');
      this.lastOutput = (this.proc.stderr + this.proc.stdout).slice(-4000);
      if (process.env.NACL_BENCH_ROUTER_LOG) appendFileSync(process.env.NACL_BENCH_ROUTER_LOG, this.proc.stdout + this.proc.stderr);
    }
    this.proc = null;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }
}
