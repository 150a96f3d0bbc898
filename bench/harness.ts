// The benchmark driver: builds the topology, then for each run, rule count and device (the
// device order rotates between runs and rule counts so no device always goes first) sets the
// device up, runs the workloads and tears it down again. Every point is recorded raw; a failing
// point is recorded with its error and the run goes on. Nothing here summarises: see report.ts.
import { cpus as osCpus, loadavg, release, totalmem } from 'node:os';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Dut, SetupInfo } from './duts/dut.js';
import { LinuxDut } from './duts/linux.js';
import { NaclDut } from './duts/nacl.js';
import { ReferenceDut } from './duts/reference.js';
import * as m from './measure.js';
import { run, stopAll } from '../lab/proc.js';
import { buildPrograms, repoRoot, type Programs } from './programs.js';
import { boostKsoftirqd, RT, type SchedPolicy } from './sched.js';
import { defaultCpus, Topology, type Cpus } from './topology.js';
import { SHAPES, type Shape } from './gen/shapes.js';
import { runControlBench, type ControlPoint } from './control.js';

export type Mode = 'smoke' | 'quick' | 'full';

export interface Settings {
  rules: number[];
  /** Rule counts at which new connections/s (with SNAT) are measured. */
  connRules: number[];
  runs: number;
  tcpSeconds: number;
  trialSeconds: number;
  searchSteps: number;
  minRate: number;
  floodSeconds: number;
  pingCount: number;
  pingInterval: number;
  connFlows: number;
  /** Also measure ping RTT under 50% load. */
  loadedLatency: boolean;
  /** How long nacl-router may take from start to both TAPs existing. */
  routerStartSeconds: number;
  /** Rule shapes other than the blocklist (gen/shapes.ts), measured at shapeRules rule counts
   *  on the devices that use rules, shapeRuns times (bulk TCP, flood, loss-free rate). */
  shapes: Shape[];
  shapeRules: number[];
  shapeRuns: number;
  /** Rule counts of the control-plane comparison (T8, bench/control.ts); empty = skipped. */
  controlRules?: number[];
}

/** The shapes measured beside the blocklist in a full run. */
const OTHER_SHAPES: Shape[] = SHAPES.filter((x) => x !== 'blocklist');

export const SETTINGS: Record<Mode, Settings> = {
  smoke: {
    rules: [0], connRules: [0], runs: 1, tcpSeconds: 1, trialSeconds: 0.3, searchSteps: 0,
    minRate: 2000, floodSeconds: 0.3, pingCount: 10, pingInterval: 0.01, connFlows: 2000, loadedLatency: false,
    routerStartSeconds: 60, shapes: [], shapeRules: [10_000], shapeRuns: 1,
  },
  quick: {
    rules: [0, 10_000], connRules: [0], runs: 3, tcpSeconds: 2, trialSeconds: 0.5, searchSteps: 7,
    minRate: 2000, floodSeconds: 1, pingCount: 200, pingInterval: 0.005, connFlows: 20_000, loadedLatency: true,
    routerStartSeconds: 90, shapes: [], shapeRules: [10_000], shapeRuns: 1, controlRules: [10_000],
  },
  full: {
    rules: [0, 100, 1000, 10_000, 100_000], connRules: [0, 10_000], runs: 3, tcpSeconds: 5,
    trialSeconds: 1, searchSteps: 10, minRate: 200, floodSeconds: 2, pingCount: 1000,
    pingInterval: 0.002, connFlows: 50_000, loadedLatency: true,
    routerStartSeconds: 300, shapes: OTHER_SHAPES, shapeRules: [10_000], shapeRuns: 2, controlRules: [10_000, 100_000],
  },
};

export const DEVICE_IDS = ['nacl-router', 'iptables', 'nft-linear', 'nft-set', 'ref-rw', 'ref-vnet'] as const;

export interface BenchOptions {
  mode: Mode;
  /** Subset of DEVICE_IDS (default: all that are available). */
  devices?: string[];
  /** Overrides of the mode's settings. */
  overrides?: Partial<Settings>;
  log?: (line: string) => void;
  /** Default 'rt' (see sched.ts). */
  sched?: SchedPolicy;
}

export interface DeviceInfo {
  id: string;
  label: string;
  usesRules: boolean;
  supportsNat: boolean;
  available: boolean;
  reason?: string;
}

export interface Point {
  run: number;
  device: string;
  rules: number;
  nat: boolean;
  /** Rule shape; absent: the blocklist. */
  shape?: Shape;
  startedAt: string;
  loadavg: number[];
  setup?: SetupInfo;
  tcpGbps?: number;
  flood?: m.UdpTrial;
  lossFree?: m.LossFree;
  /** The flood offered at least twice the loss-free rate. */
  floodAtLeast2x?: boolean;
  /** The generator could not offer more than the device forwarded loss-free. */
  generatorLimited?: boolean;
  latencyIdle?: m.Latency;
  latencyLoaded?: m.Latency;
  conn?: m.ConnRate;
  error?: string;
}

export interface BenchResults {
  format: 'nacl-router-bench/1';
  mode: Mode;
  startedAt: string;
  finishedAt: string;
  settings: Settings;
  cpus: Cpus;
  machine: Record<string, unknown>;
  versions: Record<string, string>;
  devices: DeviceInfo[];
  points: Point[];
  /** T8: start-up and reload of the same rules by nacl-router, iptables-restore and nft -f. */
  control?: ControlPoint[];
}

async function firstLine(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args, { allowFail: true, timeoutMs: 10_000 }).catch(() => null);
  if (!r) return 'not installed';
  return (r.stdout.trim() || r.stderr.trim()).split('\n')[0] ?? '';
}

async function describeMachine(): Promise<Record<string, unknown>> {
  const c = osCpus();
  return {
    cpuModel: c[0]?.model ?? 'unknown',
    cpus: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    loadavgAtStart: loadavg(),
    virtualization: (await firstLine('systemd-detect-virt', [])) || 'unknown',
    shared: 'shared with other workloads; numbers are noisy',
  };
}

async function versions(): Promise<Record<string, string>> {
  const root = repoRoot();
  const v: Record<string, string> = {
    node: process.version,
    iperf3: await firstLine('iperf3', ['--version']),
    iptables: await firstLine('iptables-legacy', ['--version']),
    nft: await firstLine('nft', ['--version']),
    gcc: await firstLine('gcc', ['--version']),
    kernel: release(),
    gitCommit: await firstLine('git', ['-C', root, 'rev-parse', 'HEAD']),
  };
  if (existsSync(join(root, 'dist', 'src', 'cli.js'))) {
    v['nacl-router'] = await firstLine(process.execPath, [join(root, 'bin', 'nacl-router.js'), '--version']);
  }
  return v;
}

function makeDevices(programs: Programs, s: Settings): Dut[] {
  return [
    new NaclDut(s.routerStartSeconds * 1000),
    new LinuxDut('iptables'),
    new LinuxDut('nft-linear'),
    new LinuxDut('nft-set'),
    new ReferenceDut(programs, false),
    new ReferenceDut(programs, true),
  ];
}

function rotate<T>(list: T[], by: number): T[] {
  if (list.length === 0) return list;
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (process.getuid?.() !== 0) throw new Error('the benchmark builds namespaces and TAP devices: run it as root');
  const settings: Settings = { ...SETTINGS[opts.mode], ...opts.overrides };
  const startedAt = new Date().toISOString();
  const programs = await buildPrograms();
  const all = makeDevices(programs, settings).filter((d) => !opts.devices || opts.devices.includes(d.id));
  const devices: DeviceInfo[] = [];
  const duts: Dut[] = [];
  for (const d of all) {
    const reason = await d.available();
    devices.push({ id: d.id, label: d.label, usesRules: d.usesRules, supportsNat: d.supportsNat, available: reason === null, ...(reason ? { reason } : {}) });
    if (reason) log(`skipping ${d.id}: ${reason}`);
    else duts.push(d);
  }
  const topo = Topology.forProcess(defaultCpus(opts.sched ?? 'rt'));
  const results: BenchResults = {
    format: 'nacl-router-bench/1', mode: opts.mode, startedAt, finishedAt: startedAt, settings,
    cpus: topo.cpus, machine: await describeMachine(), versions: await versions(), devices, points: [],
  };
  const ctx: m.Ctx = { topo, programs };
  let current: Dut | null = null;
  let restoreLoadCore: (() => Promise<void>) | null = null;
  const onSignal = (): void => {
    log('interrupted: cleaning up');
    void (async () => {
      await stopAll(true);
      await current?.teardown(topo).catch(() => undefined);
      await topo.destroy();
      await restoreLoadCore?.();
      process.exit(130);
    })();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    restoreLoadCore = await boostKsoftirqd(topo.cpus.load, topo.cpus.sched, topo.cpus.loadNice, RT.softirq);
    await topo.create();
    for (let r = 0; r < settings.runs; r++) {
      for (const [ri, rules] of settings.rules.entries()) {
        for (const dut of rotate(duts, r + ri)) {
          if (!dut.usesRules && rules !== settings.rules[0]) continue;
          current = dut;
          results.points.push(await measurePoint(ctx, dut, settings, r, dut.usesRules ? rules : 0, false, log));
          current = null;
        }
      }
      for (const [ri, rules] of settings.connRules.entries()) {
        for (const dut of rotate(duts.filter((d) => d.supportsNat), r + ri)) {
          current = dut;
          results.points.push(await measurePoint(ctx, dut, settings, r, rules, true, log));
          current = null;
        }
      }
      if (r >= settings.shapeRuns) continue;
      for (const [si, shape] of settings.shapes.entries()) {
        for (const rules of settings.shapeRules) {
          for (const dut of rotate(duts.filter((d) => d.usesRules), r + si)) {
            current = dut;
            results.points.push(await measurePoint(ctx, dut, settings, r, rules, false, log, shape));
            current = null;
          }
        }
      }
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await stopAll();
    await topo.destroy();
    await restoreLoadCore?.();
  }
  if (settings.controlRules?.length && (!opts.devices || opts.devices.includes('nacl-router'))) {
    results.control = await runControlBench(settings.controlRules, settings.runs, log);
  }
  results.finishedAt = new Date().toISOString();
  (results.machine as Record<string, unknown>).loadavgAtEnd = loadavg();
  return results;
}

function fmt(n: number | undefined, digits = 0): string {
  return n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits);
}

async function measurePoint(ctx: m.Ctx, dut: Dut, s: Settings, runIdx: number, rules: number, nat: boolean,
  log: (line: string) => void, shape?: Shape): Promise<Point> {
  const p: Point = { run: runIdx, device: dut.id, rules, nat, ...(shape ? { shape } : {}), startedAt: new Date().toISOString(), loadavg: loadavg() };
  const tag = `run ${runIdx + 1}/${s.runs} ${dut.id} rules=${rules}${shape ? ` shape=${shape}` : ''}${nat ? ' nat' : ''}`;
  try {
    p.setup = await dut.setup(ctx.topo, { rules, nat, shape });
    await m.warmup(ctx);
    if (nat) {
      p.conn = await m.connRate(ctx, s.connFlows);
      log(`${tag}: ${fmt(p.conn.perSecond)} new flows/s (${p.conn.delivered}/${p.conn.flows} delivered)`);
      return p;
    }
    p.tcpGbps = await m.tcpBulk(ctx, s.tcpSeconds);
    p.flood = await m.udpTrial(ctx, 0, s.floodSeconds);
    const hi = Math.max(s.minRate * 2, p.flood.offeredPps);
    if (p.flood.loss < m.LOSS_LIMIT) {
      p.lossFree = { pps: p.flood.offeredPps, trials: [] };
      p.generatorLimited = true;
    } else {
      p.lossFree = await m.udpLossFree(ctx, s.minRate, hi, s.searchSteps, s.trialSeconds);
      p.generatorLimited = p.lossFree.pps >= 0.97 * hi;
    }
    p.floodAtLeast2x = p.flood.offeredPps >= 2 * p.lossFree.pps;
    if (shape) {
      log(`${tag}: tcp ${fmt(p.tcpGbps, 2)} Gbit/s, loss-free ${fmt(p.lossFree.pps)} pps, flood ${fmt(p.flood.receivedPps)}/${fmt(p.flood.offeredPps)} pps`);
      return p;
    }
    p.latencyIdle = await m.latency(ctx, s.pingCount, s.pingInterval, 0);
    if (s.loadedLatency && p.lossFree.pps > 0) p.latencyLoaded = await m.latency(ctx, s.pingCount, s.pingInterval, p.lossFree.pps / 2);
    log(`${tag}: tcp ${fmt(p.tcpGbps, 2)} Gbit/s, loss-free ${fmt(p.lossFree.pps)} pps, flood ${fmt(p.flood.receivedPps)}/${fmt(p.flood.offeredPps)} pps, ` +
      `ping p50/p99 ${fmt(p.latencyIdle.p50, 3)}/${fmt(p.latencyIdle.p99, 3)} ms idle, ${fmt(p.latencyLoaded?.p50, 3)}/${fmt(p.latencyLoaded?.p99, 3)} ms loaded`);
  } catch (err) {
    p.error = (err as Error).message;
    log(`${tag}: FAILED: ${p.error}`);
  } finally {
    await dut.teardown(ctx.topo).catch((err: Error) => log(`${tag}: teardown failed: ${err.message}`));
  }
  return p;
}
