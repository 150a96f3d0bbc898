// The workloads, run from the client namespace against the server namespace through whatever
// device under test currently connects them. Load-side programs are pinned to the load core.
//   tcpBulk      iperf3, one TCP stream, Gbit/s received
//   udpTrial     a paced 64-byte UDP stream for a fixed time, counted by the receiver
//   udpLossFree  geometric binary search for the highest offered rate with loss < 0.1%
//   udpFlood     unpaced 64-byte UDP: offered rate and goodput
//   connRate     one 64-byte UDP packet per new flow (new source port each), unpaced: flows
//                delivered per second between the first and last arrival
//   latency      ping RTT percentiles, optionally with a paced UDP load running
import { lastJson, background, nsRun, sleep } from '../lab/proc.js';
import type { Programs } from './programs.js';
import { onCpu, RT } from './sched.js';
import { CLIENT_ADDR, SERVER_ADDR, type Topology } from './topology.js';

export const UDP_PORT = 9000;
export const FLOW_PORT = 9001;
export const IPERF_PORT = 5201;
export const LOSS_LIMIT = 0.001;

export interface Ctx {
  topo: Topology;
  programs: Programs;
}

/** Load-side programs: pinned to the load core, at raised priority. */
function pinned(ctx: Ctx, cmd: string, args: string[], role: 'sender' | 'receiver' = 'sender'): [string, string[]] {
  return onCpu(ctx.topo.cpus.load, ctx.topo.cpus.sched, ctx.topo.cpus.loadNice, RT[role], cmd, args);
}

/** A few pings until the path answers (ARP resolved, routes in place). */
export async function warmup(ctx: Ctx): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const r = await nsRun(ctx.topo.client, 'ping', ['-c', '1', '-W', '1', SERVER_ADDR], { allowFail: true });
    if (r.code === 0) return;
    await sleep(100);
  }
  throw new Error(`no connectivity from ${CLIENT_ADDR} to ${SERVER_ADDR} through the device under test`);
}

export async function tcpBulk(ctx: Ctx, seconds: number): Promise<number> {
  const [cmd, args] = pinned(ctx, 'iperf3', ['-s', '-1', '--forceflush', '-p', String(IPERF_PORT)], 'receiver');
  const server = background('iperf3 server', ctx.topo.server, cmd, args);
  try {
    await server.waitFor(/listening/i, 5000);
    const [c, a] = pinned(ctx, 'iperf3', ['-c', SERVER_ADDR, '-p', String(IPERF_PORT), '-t', String(seconds), '-J']);
    const r = await nsRun(ctx.topo.client, c, a, { timeoutMs: (seconds + 30) * 1000, allowFail: true });
    if (!r.stdout.trim().startsWith('{')) throw new Error(`iperf3 client failed (${r.code}): ${r.stderr.trim().slice(-300)}`);
    const json = JSON.parse(r.stdout) as { error?: string; end?: { sum_received?: { bits_per_second?: number } } };
    if (json.error) throw new Error(`iperf3: ${json.error}`);
    return (json.end?.sum_received?.bits_per_second ?? 0) / 1e9;
  } finally {
    await server.stop();
  }
}

export interface UdpTrial {
  /** Offered packets per second (attempted / generator time). */
  offeredPps: number;
  attempted: number;
  /** Accepted by the client's kernel. */
  sent: number;
  received: number;
  /** Received per second of generator time. */
  receivedPps: number;
  loss: number;
}

interface GenOut { attempted: number; sent: number; errors: number; elapsed_ns: number }
interface SinkOut { count: number; first_ns: number; last_ns: number }

async function withSink<T>(ctx: Ctx, port: number, maxMs: number, body: () => Promise<T>): Promise<[T, SinkOut]> {
  const [cmd, args] = pinned(ctx, ctx.programs.udpsink, ['-p', String(port), '-i', '200', '-w', String(maxMs)], 'receiver');
  const sink = background('udpsink', ctx.topo.server, cmd, args);
  try {
    await sink.waitFor(/ready/, 5000);
    const out = await body();
    await sink.finish(maxMs + 2000);
    return [out, lastJson<SinkOut>(sink.stdout)];
  } finally {
    await sink.stop();
  }
}

async function generate(ctx: Ctx, args: string[], seconds: number): Promise<GenOut> {
  const [cmd, a] = pinned(ctx, ctx.programs.udpgen, args);
  const r = await nsRun(ctx.topo.client, cmd, a, { timeoutMs: (seconds + 20) * 1000 });
  return lastJson<GenOut>(r.stdout);
}

/** rate 0 = unpaced. */
export async function udpTrial(ctx: Ctx, rate: number, seconds: number): Promise<UdpTrial> {
  const [gen, sink] = await withSink(ctx, UDP_PORT, seconds * 1000 + 1500, () =>
    generate(ctx, ['-d', SERVER_ADDR, '-p', String(UDP_PORT), '-r', String(Math.round(rate)), '-t', String(seconds)], seconds));
  const secs = gen.elapsed_ns / 1e9;
  return {
    offeredPps: gen.attempted / secs,
    attempted: gen.attempted,
    sent: gen.sent,
    received: sink.count,
    receivedPps: sink.count / secs,
    loss: gen.attempted > 0 ? Math.max(0, 1 - sink.count / gen.attempted) : 1,
  };
}

export interface LossFree {
  /** Highest offered rate that passed (0 if none did). */
  pps: number;
  trials: UdpTrial[];
}

/**
 * Geometric binary search in [lo, hi] for the highest paced rate with loss < LOSS_LIMIT
 * (hi itself is known to lose: it is the unpaced flood's rate). If no step passes, lo is tried.
 */
export async function udpLossFree(ctx: Ctx, lo: number, hi: number, steps: number, seconds: number): Promise<LossFree> {
  const trials: UdpTrial[] = [];
  let best = 0;
  let low = lo;
  let high = hi;
  for (let i = 0; i < steps; i++) {
    const rate = Math.sqrt(low * high);
    const t = await udpTrial(ctx, rate, seconds);
    trials.push(t);
    if (t.loss < LOSS_LIMIT) {
      low = rate;
      best = Math.max(best, t.offeredPps);
    } else {
      high = rate;
    }
  }
  if (best === 0) {
    const t = await udpTrial(ctx, lo, seconds);
    trials.push(t);
    if (t.loss < LOSS_LIMIT) best = t.offeredPps;
  }
  return { pps: best, trials };
}

export interface ConnRate {
  flows: number;
  offeredPps: number;
  delivered: number;
  /** Delivered new flows per second, first to last arrival. */
  perSecond: number;
}

export async function connRate(ctx: Ctx, flows: number): Promise<ConnRate> {
  const n = Math.min(flows, 64512);
  const [gen, sink] = await withSink(ctx, FLOW_PORT, 20_000, () =>
    generate(ctx, ['-d', SERVER_ADDR, '-p', String(FLOW_PORT), '-f', CLIENT_ADDR, '-n', String(n), '-t', '15'], 15));
  const window = (sink.last_ns - sink.first_ns) / 1e9;
  return {
    flows: n,
    offeredPps: gen.attempted / (gen.elapsed_ns / 1e9),
    delivered: sink.count,
    perSecond: sink.count > 1 && window > 0 ? (sink.count - 1) / window : 0,
  };
}

export interface Latency {
  /** Milliseconds. */
  p50: number;
  p99: number;
  max: number;
  replies: number;
  sent: number;
  loadPps: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

async function ping(ctx: Ctx, count: number, intervalS: number): Promise<number[]> {
  const [cmd, args] = pinned(ctx, 'ping', ['-n', '-c', String(count), '-i', String(intervalS), '-W', '1', SERVER_ADDR], 'receiver');
  const r = await nsRun(ctx.topo.client, cmd, args, { allowFail: true, timeoutMs: (count * intervalS + 30) * 1000 });
  const rtts: number[] = [];
  for (const m of r.stdout.matchAll(/time=([\d.]+) ms/g)) rtts.push(Number(m[1]));
  return rtts;
}

/** Ping RTTs; with loadPps > 0 a paced 64-byte UDP stream runs alongside. */
export async function latency(ctx: Ctx, count: number, intervalS: number, loadPps: number): Promise<Latency> {
  let rtts: number[] = [];
  if (loadPps > 0) {
    const seconds = count * intervalS + 1;
    await withSink(ctx, UDP_PORT, seconds * 1000 + 1500, async () => {
      const gen = generate(ctx, ['-d', SERVER_ADDR, '-p', String(UDP_PORT), '-r', String(Math.round(loadPps)), '-t', String(seconds)], seconds);
      await sleep(500);
      rtts = await ping(ctx, count, intervalS);
      return gen;
    });
  } else {
    rtts = await ping(ctx, count, intervalS);
  }
  const sorted = rtts.slice().sort((x, y) => x - y);
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    replies: sorted.length,
    sent: count,
    loadPps,
  };
}
