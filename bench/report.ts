// Turns a BenchResults object into docs/benchmarks.md and SVG charts (vega-lite compiled to
// vega and rendered headless, no canvas, no network). Every number in the report is a median
// over runs; every ratio is computed run by run (device A and device B from the same run) and
// the median of those ratios is reported, so slow drifts of a shared machine cancel out.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { controlSummary, type ControlPoint } from './control.js';
import type { BenchResults, Point } from './harness.js';
import { SHAPE_TEXT, type Shape } from './gen/shapes.js';

export type Metric = 'udp' | 'flood' | 'tcp' | 'p50idle' | 'p99idle' | 'p50load' | 'p99load' | 'conn' | 'connDelivered' | 'load' | 'reload';

const METRICS: Record<Metric, { title: string; unit: string; digits: number; nat: boolean; get: (p: Point) => number | undefined }> = {
  udp: { title: '64-byte UDP, highest rate with < 0.1% loss', unit: 'packets/s', digits: 0, nat: false, get: (p) => p.lossFree?.pps },
  flood: { title: '64-byte UDP goodput under an unpaced flood', unit: 'packets/s', digits: 0, nat: false, get: (p) => p.flood?.receivedPps },
  tcp: { title: 'Bulk TCP (iperf3, one stream)', unit: 'Gbit/s', digits: 2, nat: false, get: (p) => p.tcpGbps },
  p50idle: { title: 'Ping RTT p50, idle', unit: 'ms', digits: 3, nat: false, get: (p) => p.latencyIdle?.p50 },
  p99idle: { title: 'Ping RTT p99, idle', unit: 'ms', digits: 3, nat: false, get: (p) => p.latencyIdle?.p99 },
  p50load: { title: 'Ping RTT p50 at 50% of the device\'s own loss-free rate', unit: 'ms', digits: 3, nat: false, get: (p) => p.latencyLoaded?.p50 },
  p99load: { title: 'Ping RTT p99 at 50% of the device\'s own loss-free rate', unit: 'ms', digits: 3, nat: false, get: (p) => p.latencyLoaded?.p99 },
  conn: { title: 'New connections/s with conntrack + source NAT (one UDP packet per new flow)', unit: 'flows/s', digits: 0, nat: true, get: (p) => p.conn?.perSecond },
  connDelivered: { title: 'Share of the new-flow packets delivered (the rest were dropped under the unpaced burst)', unit: '%', digits: 1, nat: true, get: (p) => (p.conn && p.conn.flows > 0 ? (100 * p.conn.delivered) / p.conn.flows : undefined) },
  load: { title: 'Ruleset load time (setup step)', unit: 'ms', digits: 0, nat: false, get: (p) => p.setup?.loadMs },
  reload: { title: 'nacl-router live reload (read + check + compile + swap)', unit: 'ms', digits: 0, nat: false, get: (p) => p.setup?.reloadMs },
};

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = xs.slice().sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function valid(x: number | undefined): x is number {
  return x !== undefined && Number.isFinite(x);
}

/** Values of `metric` for a device at a rule count (of a rule shape), one per run that produced it. */
export function values(r: BenchResults, metric: Metric, device: string, rules: number, shape: Shape = 'blocklist'): Map<number, number> {
  const out = new Map<number, number>();
  const nat = METRICS[metric].nat;
  for (const p of r.points) {
    if (p.device !== device || p.rules !== rules || p.nat !== nat || p.error || (p.shape ?? 'blocklist') !== shape) continue;
    const v = METRICS[metric].get(p);
    if (valid(v)) out.set(p.run, v);
  }
  return out;
}

export interface Stat { median: number; min: number; max: number; n: number }

export function stat(r: BenchResults, metric: Metric, device: string, rules: number, shape: Shape = 'blocklist'): Stat | null {
  const v = [...values(r, metric, device, rules, shape).values()];
  if (v.length === 0) return null;
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/** Median over runs of (A / B), pairing A and B from the same run. */
type Series = [Metric, string, number] | [Metric, string, number, Shape];

export function pairedRatio(r: BenchResults, a: Series, b: Series): { ratio: number; pairs: number } | null {
  const va = values(r, a[0], a[1], a[2], a[3]);
  const vb = values(r, b[0], b[1], b[2], b[3]);
  const ratios: number[] = [];
  for (const [run, x] of va) {
    const y = vb.get(run);
    if (y !== undefined && y > 0) ratios.push(x / y);
  }
  return ratios.length ? { ratio: median(ratios), pairs: ratios.length } : null;
}

export interface Target {
  id: string;
  text: string;
  status: 'met' | 'not met' | 'not measured';
  measured: string;
}

type Cmp = { a: Series; b: Series; op: '>=' | '<='; bound: number; what: string };

/** Runs in which the device forwarded all the generator could offer (its rate is a lower bound). */
function limitedRuns(r: BenchResults, metric: Metric, device: string, rules: number, shape: Shape = 'blocklist'): Set<number> {
  if (metric !== 'udp' && metric !== 'flood') return new Set();
  return new Set(r.points.filter((p) => p.device === device && p.rules === rules && !p.nat && p.generatorLimited &&
    (p.shape ?? 'blocklist') === shape).map((p) => p.run));
}

function check(r: BenchResults, c: Cmp): { status: Target['status']; measured: string } {
  const q = pairedRatio(r, c.a, c.b);
  if (!q) return { status: 'not measured', measured: `${c.what}: no data` };
  // A lower-bound numerator makes the ratio a lower bound, a lower-bound denominator an upper one.
  const aLow = limitedRuns(r, c.a[0], c.a[1], c.a[2], c.a[3]).size > 0;
  const bLow = limitedRuns(r, c.b[0], c.b[1], c.b[2], c.b[3]).size > 0;
  const ok = c.op === '>=' ? q.ratio >= c.bound : q.ratio <= c.bound;
  let status: Target['status'] = ok ? 'met' : 'not met';
  let note = '';
  if (aLow || bLow) {
    const lower = aLow && !bLow;
    const upper = bLow && !aLow;
    const proves = (c.op === '>=' && (lower ? ok : upper ? !ok : false)) || (c.op === '<=' && (upper ? ok : lower ? !ok : false));
    if (!proves) status = 'not measured';
    note = `, ${upper ? 'an upper bound' : lower ? 'a lower bound' : 'inconclusive'}: ${[aLow ? c.a[1] : '', bLow ? c.b[1] : ''].filter(Boolean).join(' and ')} forwarded all the load generator could offer`;
  }
  return { status, measured: `${c.what} = ${q.ratio.toFixed(2)}x (${q.pairs} paired run${q.pairs > 1 ? 's' : ''}${note}) → ${status}` };
}

function combine(parts: { status: Target['status']; measured: string }[]): { status: Target['status']; measured: string } {
  const status = parts.some((p) => p.status === 'not met') ? 'not met'
    : parts.every((p) => p.status === 'met') ? 'met' : 'not measured';
  return { status, measured: parts.map((p) => p.measured).join('; ') };
}

const N = 'nacl-router';

/** T9: every rule shape other than the blocklist against iptables, when the run measured shapes. */
function shapesTarget(r: BenchResults, t: (id: string, text: string, cmps: Cmp[]) => Target): Target | null {
  const shapes = [...new Set(r.points.filter((p) => p.shape !== undefined).map((p) => p.shape!))];
  const shapeRules = [...new Set(r.points.filter((p) => p.shape !== undefined).map((p) => p.rules))].sort((a, b) => a - b);
  if (shapes.length === 0) return null;
  const cmps: Cmp[] = [];
  for (const shape of shapes) {
    for (const n of shapeRules) {
      cmps.push({ a: ['udp', N, n, shape], b: ['udp', 'iptables', n, shape], op: '>=', bound: 15, what: `${shape} udp vs iptables at ${n}` });
      cmps.push({ a: ['tcp', N, n, shape], b: ['tcp', 'iptables', n, shape], op: '>=', bound: 3, what: `${shape} tcp vs iptables at ${n}` });
    }
  }
  return t('T9', `rule shapes that are not ours (block-per-rule TCP/UDP drop/accept, ClassBench-style acl/fw/ipc): at ${shapeRules.map((n) => n.toLocaleString('en-US')).join(', ')} rules of every shape, loss-free 64-byte rate >= 15x iptables and bulk TCP >= 3x iptables`, cmps);
}

export function targets(r: BenchResults): Target[] {
  const t = (id: string, text: string, cmps: Cmp[]): Target => ({ id, text, ...combine(cmps.map((c) => check(r, c))) });
  const floodChecks: Cmp[] = [...new Set(r.points.filter((p) => p.device === N && !p.nat).map((p) => p.rules))]
    .sort((x, y) => x - y)
    .map((rules) => ({ a: ['flood', N, rules], b: ['udp', N, rules], op: '>=', bound: 0.8, what: `flood goodput / own loss-free rate at ${rules} rules` }));
  const list: Target[] = [
    t('T1', 'rule scaling: loss-free 64-byte rate at 10,000 rules >= 15x iptables and >= 15x nftables linear; at 100,000 rules >= 100x iptables', [
      { a: ['udp', N, 10_000], b: ['udp', 'iptables', 10_000], op: '>=', bound: 15, what: 'vs iptables at 10k' },
      { a: ['udp', N, 10_000], b: ['udp', 'nft-linear', 10_000], op: '>=', bound: 15, what: 'vs nft linear at 10k' },
      { a: ['udp', N, 100_000], b: ['udp', 'iptables', 100_000], op: '>=', bound: 100, what: 'vs iptables at 100k' },
    ]),
    t('T2', 'flat: own rate at 10,000 rules >= 0.9x own rate at 0 rules; >= 0.6x nftables with a set', [
      { a: ['udp', N, 10_000], b: ['udp', N, 0], op: '>=', bound: 0.9, what: '10k / 0 rules' },
      { a: ['udp', N, 10_000], b: ['udp', 'nft-set', 10_000], op: '>=', bound: 0.6, what: 'vs nft set at 10k' },
    ]),
    t('T3', 'small packets, 0 rules: >= 0.6x Linux kernel forwarding, >= 0.8x the C read/write TAP forwarder', [
      { a: ['udp', N, 0], b: ['udp', 'iptables', 0], op: '>=', bound: 0.6, what: 'vs Linux (iptables, 0 rules)' },
      { a: ['udp', N, 0], b: ['udp', 'ref-rw', 0], op: '>=', bound: 0.8, what: 'vs C read/write forwarder' },
    ]),
    t('T4', 'bulk TCP: >= 0.8x Linux kernel forwarding at 0 rules; >= 3x iptables at 10,000 rules', [
      { a: ['tcp', N, 0], b: ['tcp', 'iptables', 0], op: '>=', bound: 0.8, what: 'vs Linux at 0' },
      { a: ['tcp', N, 10_000], b: ['tcp', 'iptables', 10_000], op: '>=', bound: 3, what: 'vs iptables at 10k' },
    ]),
    t('T5', 'overload: goodput under the flood >= 0.8x own loss-free rate', floodChecks.length ? floodChecks
      : [{ a: ['flood', N, 0], b: ['udp', N, 0], op: '>=', bound: 0.8, what: 'flood goodput / own loss-free rate' }]),
    t('T6', 'stateful: new connections/s with conntrack + SNAT >= 0.5x Linux conntrack + masquerade', [
      { a: ['conn', N, 0], b: ['conn', 'iptables', 0], op: '>=', bound: 0.5, what: 'vs iptables masquerade at 0 rules' },
    ]),
    t('T7', 'latency: p99 <= 2x Linux at 0 rules; <= 0.5x iptables at 10,000 rules (idle ping p99)', [
      { a: ['p99idle', N, 0], b: ['p99idle', 'iptables', 0], op: '<=', bound: 2, what: 'vs Linux at 0' },
      { a: ['p99idle', N, 10_000], b: ['p99idle', 'iptables', 10_000], op: '<=', bound: 0.5, what: 'vs iptables at 10k' },
    ]),
  ];
  if (r.control?.length) {
    list.push(controlTarget(r.control));
    const t9 = shapesTarget(r, t);
    if (t9) list.push(t9);
    return list;
  }
  const ipt = stat(r, 'load', 'iptables', 10_000);
  const reload = stat(r, 'reload', N, 10_000);
  const start = stat(r, 'load', N, 10_000);
  const t8 = ipt && reload ? (reload.median <= ipt.median ? 'met' : 'not met') : 'not measured';
  list.push({
    id: 'T8', text: 'control plane: check + compile + swap of 10,000 rules no slower than iptables-restore of the same rules',
    status: t8 as Target['status'],
    measured: `nacl-router live reload (ctl reload: read + check + compile + swap) of 10k rules ${reload ? `${reload.median.toFixed(0)} ms` : 'not measured'}` +
      ` vs iptables-legacy-restore ${ipt ? `${ipt.median.toFixed(0)} ms` : 'not measured'}` +
      (ipt && reload ? ` = ${(reload.median / ipt.median).toFixed(2)}x → ${t8}` : '') +
      `; for reference, router start to links up ${start ? `${start.median.toFixed(0)} ms` : 'not measured'}`,
  });
  const t9 = shapesTarget(r, t);
  if (t9) list.push(t9);
  return list;
}

function fmt(x: number, digits: number): string {
  if (!Number.isFinite(x)) return '-';
  return digits === 0 ? Math.round(x).toLocaleString('en-US') : x.toFixed(digits);
}

function ruleCounts(r: BenchResults, nat: boolean): number[] {
  return [...new Set(r.points.filter((p) => p.nat === nat && p.shape === undefined).map((p) => p.rules))].sort((a, b) => a - b);
}

function deviceLabel(r: BenchResults, id: string): string {
  return r.devices.find((d) => d.id === id)?.label ?? id;
}

function measuredDevices(r: BenchResults, nat: boolean): string[] {
  const seen = new Set(r.points.filter((p) => p.nat === nat && p.shape === undefined).map((p) => p.device));
  return r.devices.map((d) => d.id).filter((id) => seen.has(id));
}

function table(r: BenchResults, metric: Metric): string {
  const m = METRICS[metric];
  const counts = ruleCounts(r, m.nat);
  const lines = [
    `| device (${m.unit}) | ${counts.map((c) => `${c.toLocaleString('en-US')} rules`).join(' | ')} |`,
    `|---|${counts.map(() => '---:').join('|')}|`,
  ];
  for (const dev of measuredDevices(r, m.nat)) {
    const cells = counts.map((c) => {
      const s = stat(r, metric, dev, c);
      if (!s) return '';
      return s.n > 1 ? `${fmt(s.median, m.digits)} (${fmt(s.min, m.digits)}–${fmt(s.max, m.digits)})` : fmt(s.median, m.digits);
    });
    lines.push(`| ${deviceLabel(r, dev)} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

interface Row { device: string; rules: string; order: number; value: number; reference: boolean }

function chartRows(r: BenchResults, metric: Metric): Row[] {
  const m = METRICS[metric];
  const counts = ruleCounts(r, m.nat);
  const rows: Row[] = [];
  for (const dev of measuredDevices(r, m.nat)) {
    const info = r.devices.find((d) => d.id === dev);
    const reference = info ? !info.usesRules : false;
    for (const [i, c] of counts.entries()) {
      const s = stat(r, metric, dev, reference ? 0 : c);
      if (s && s.median > 0) rows.push({ device: deviceLabel(r, dev), rules: c.toLocaleString('en-US'), order: i, value: s.median, reference });
    }
  }
  return rows;
}

function lineSpec(title: string, unit: string, rows: Row[], log: boolean): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title, width: 520, height: 300, background: 'white',
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'rules', type: 'ordinal', sort: { field: 'order' }, title: 'forward rules (none matches)' },
      y: { field: 'value', type: 'quantitative', title: unit, scale: log ? { type: 'log' } : { zero: true } },
      color: { field: 'device', type: 'nominal', title: 'device' },
      strokeDash: { field: 'reference', type: 'nominal', title: 'no rules (reference)', legend: null },
    },
  } as TopLevelSpec;
}

function barSpec(title: string, unit: string, rows: Row[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title, width: 420, height: 220, background: 'white',
    data: { values: rows },
    mark: 'bar',
    encoding: {
      y: { field: 'device', type: 'nominal', title: null },
      x: { field: 'value', type: 'quantitative', title: unit },
      color: { field: 'device', type: 'nominal', legend: null },
      row: { field: 'rules', type: 'ordinal', title: 'rules' },
    },
  } as TopLevelSpec;
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

function prio(r: BenchResults, niceness: number): string {
  return r.cpus.sched === 'nice' ? `nice ${niceness}` : 'SCHED_FIFO priority 1';
}

function machineLine(r: BenchResults): string {
  const m = r.machine as { cpuModel?: string; cpus?: number; memoryGiB?: number; kernel?: string; virtualization?: string; loadavgAtStart?: number[]; loadavgAtEnd?: number[] };
  const la = (x?: number[]): string => (x ? x.map((v) => v.toFixed(2)).join(' / ') : '?');
  return `${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Linux ${m.kernel} (${m.virtualization}); ` +
    `load average (1/5/15 min) ${la(m.loadavgAtStart)} at start, ${la(m.loadavgAtEnd)} at the end`;
}

/** The rule shapes other than the blocklist: per shape and rule count, each device's loss-free
 *  rate, bulk TCP and ruleset load time, and nacl-router's paired ratios against iptables. */
function shapeSection(r: BenchResults): string[] {
  const pts = r.points.filter((p) => p.shape !== undefined);
  if (pts.length === 0) return [];
  const shapes = [...new Set(pts.map((p) => p.shape!))];
  const devs = r.devices.map((d) => d.id).filter((id) => pts.some((p) => p.device === id));
  const counts = [...new Set(pts.map((p) => p.rules))].sort((a, b) => a - b);
  const cell = (metric: Metric, dev: string, n: number, shape: Shape): string => {
    const st = stat(r, metric, dev, n, shape);
    return st ? fmt(st.median, METRICS[metric].digits) : '';
  };
  const ratio = (metric: Metric, n: number, shape: Shape): string => {
    const q = pairedRatio(r, [metric, N, n, shape], [metric, 'iptables', n, shape]);
    return q ? `${q.ratio.toFixed(1)}x` : '';
  };
  const out = ['## Rule shapes', '', 'The same N rules for every device; no rule matches the benchmark traffic. Medians over runs.', ''];
  for (const shape of shapes) out.push(`* **${shape}**: ${SHAPE_TEXT[shape]}`);
  out.push('');
  for (const n of counts) {
    out.push(`### ${n.toLocaleString('en-US')} rules`, '',
      `| shape | ${devs.map((d) => `${deviceLabel(r, d)} loss-free pps`).join(' | ')} | nacl-router / iptables | ${devs.map((d) => `${deviceLabel(r, d)} TCP Gbit/s`).join(' | ')} | nacl-router / iptables | ${devs.map((d) => `${deviceLabel(r, d)} load ms`).join(' | ')} |`,
      `|---|${[...devs, 'r', ...devs, 'r', ...devs].map(() => '---:').join('|')}|`);
    for (const shape of shapes) {
      out.push(`| ${shape} | ${devs.map((d) => cell('udp', d, n, shape)).join(' | ')} | ${ratio('udp', n, shape)} | ` +
        `${devs.map((d) => cell('tcp', d, n, shape)).join(' | ')} | ${ratio('tcp', n, shape)} | ${devs.map((d) => cell('load', d, n, shape)).join(' | ')} |`);
    }
    out.push('');
  }
  const failed = pts.filter((p) => p.error);
  if (failed.length > 0) out.push('Not measured: ' + [...new Set(failed.map((p) => `${p.device} ${p.shape} (${p.error})`))].join('; '), '');
  return out;
}

/** Writes docs/benchmarks.md and docs/benchmarks/*.svg; returns the paths written. */
export async function writeReport(r: BenchResults, docsDir: string): Promise<string[]> {
  const svgDir = join(docsDir, 'benchmarks');
  mkdirSync(svgDir, { recursive: true });
  const written: string[] = [];
  const charts: [string, Metric, string, 'line' | 'linelog' | 'bar'][] = [
    ['udp-loss-free.svg', 'udp', '64-byte UDP loss-free rate vs rule count', 'linelog'],
    ['udp-flood.svg', 'flood', '64-byte UDP goodput under flood vs rule count', 'linelog'],
    ['tcp-bulk.svg', 'tcp', 'Bulk TCP vs rule count', 'line'],
    ['latency-p99-idle.svg', 'p99idle', 'Ping RTT p99 (idle) vs rule count', 'linelog'],
    ['latency-p99-loaded.svg', 'p99load', 'Ping RTT p99 at 50% load vs rule count', 'linelog'],
    ['new-connections.svg', 'conn', 'New connections/s with conntrack + SNAT', 'bar'],
  ];
  const embedded: string[] = [];
  for (const [file, metric, title, kind] of charts) {
    const rows = chartRows(r, metric);
    if (rows.length === 0) continue;
    const spec = kind === 'bar' ? barSpec(title, METRICS[metric].unit, rows) : lineSpec(title, METRICS[metric].unit, rows, kind === 'linelog');
    const path = join(svgDir, file);
    writeFileSync(path, await renderSvg(spec));
    written.push(path);
    embedded.push(`![${title}](benchmarks/${file})`);
  }

  const s = r.settings;
  const skipped = r.devices.filter((d) => !d.available);
  const failed = r.points.filter((p) => p.error);
  const limited = r.points.filter((p) => p.generatorLimited);
  const notTwice = r.points.filter((p) => p.floodAtLeast2x === false);
  const tg = targets(r);
  const md: string[] = [
    '# Benchmarks',
    '',
    `<!-- Generated by bench/report.ts from bench/results/${r.startedAt.replace(/[:.]/g, '-')}.json; do not edit by hand. -->`,
    '',
    `Run: \`npm run bench${r.mode === 'full' ? '' : ` -- --${r.mode}`}\` (as root), ${r.mode} mode, ${r.startedAt} to ${r.finishedAt}, ` +
    `${s.runs} run${s.runs > 1 ? 's' : ''} per point, devices alternating (the order rotates every run and rule count).`,
    '',
    `Machine: ${machineLine(r)}.`,
    '',
    `Versions: ${Object.entries(r.versions).map(([k, v]) => `${k} \`${v}\``).join(', ')}.`,
    '',
    '> **Noise.** This machine is shared: other jobs (compilers, test suites) run on both cores during the',
    '> benchmark, so absolute numbers vary from run to run (see the min–max ranges). Ratios are computed run',
    '> by run between devices measured minutes apart, which cancels slow drifts but not bursts.',
    ...(r.mode !== 'full' ? ['> This is a **' + r.mode + '** run: fewer rule counts and shorter trials than the full run.'] : []),
    '',
    '## Targets',
    '',
    'A target is *met* only when every part of it was measured and met, *not met* when any measured part',
    'missed, otherwise *not measured*; each part shows its own ratio and verdict.',
    '',
    '| target | status | measured (median of paired ratios) |',
    '|---|---|---|',
    ...tg.map((x) => `| **${x.id}** ${x.text} | ${x.status} | ${x.measured} |`),
    '',
    '## Setup',
    '',
    '* **Topology.** A client namespace (10.10.1.2/24) and a server namespace (10.10.2.2/24); the device',
    '  under test connects them with router addresses 10.10.1.1 and 10.10.2.1. All traffic stays between',
    '  these namespaces.',
    '* **Devices.**',
    '  * *nacl-router*: `nacl-router run FILE --link 0=tap:A --link 1=tap:B`; the harness moves the kernel',
    '    side of each TAP into the client / server namespace once the router has created it. The router',
    '    runs as shipped: node starts with the flags of the first line of bin/nacl-router.js',
    '    (`--no-concurrent-recompilation`), and the router warms its JIT with its own rules on in-process',
    '    links before its links open (see docs/operations.md); poll mode (`--busy-poll`) is not used.',
    '  * *Linux*: a router namespace between two veth pairs, `ip_forward=1`, with the ruleset as iptables',
    '    (legacy xtables, FORWARD chain), nftables with one rule per address, or nftables with one set lookup.',
    '  * *C TAP forwarders* (`bench/ref/tapfwd.c`): one `read()` and one `write()` per frame between two TAPs',
    '    (the `vnet_hdr` variant enables IFF_VNET_HDR with checksum/TSO offloads). They work at L2, so the',
    '    endpoints pin their gateway\'s neighbour entry to the MAC of the far TAP: the same addresses and',
    '    routes as for the other devices, frames cross unchanged (TTL is not decremented), no rules.',
    '* **Rules.** N rules, each dropping one source address in 172.16.0.0/12, in front of the final accept',
    '  (no "established" shortcut before them); no rule matches the benchmark traffic, so every packet is',
    '  tested against all N. nacl-router gets the same as a NaCl `Filter::IP` on the Gateway\'s `forward`',
    '  chain (`if (ip.saddr == A) { drop }` × N, then `accept`); generated by `bench/gen/rulesets.ts`.',
    '  nacl-router tracks every connection (NaCl semantics); Linux loads conntrack only for the NAT workload.',
    `* **CPU accounting.** The machine has ${(r.machine as { cpus?: number }).cpus} cores. Core ${r.cpus.dut} is the device-under-test core:`,
    `  the router process and the C forwarders are pinned to it (\`taskset\`, ${prio(r, r.cpus.dutNice)}); for Linux,`,
    `  RPS on the router-namespace veths puts all forwarding softirq work on it, and its \`ksoftirqd/${r.cpus.dut}\``,
    `  thread runs at the same priority while a Linux device is measured. Core ${r.cpus.load} is the load core:`,
    `  generators, receivers, iperf3 and ping are pinned to it (${prio(r, r.cpus.loadNice)}, and so is`,
    `  \`ksoftirqd/${r.cpus.load}\` during the run) and the endpoint interfaces steer their receive processing to it with`,
    '  RPS. The kernel work of a TAP write (done in the writer\'s system call up to the RPS hand-off) counts',
    '  against the DUT core, as veth transmission from the Linux router namespace does.',
    '* **Workloads.**',
    `  * Bulk TCP: iperf3, one stream, ${s.tcpSeconds} s.`,
    `  * 64-byte UDP (18-byte payload): first an unpaced flood for ${s.floodSeconds} s (\`bench/ref/udpgen.c\`,`,
    '    sendmmsg), counted by `bench/ref/udpsink.c` (recvmmsg); its offered rate bounds a geometric binary',
    `    search (${s.searchSteps} steps of ${s.trialSeconds} s, from ${s.minRate} packets/s) for the highest paced rate`,
    '    with < 0.1% loss. "Goodput under flood" is what the receiver counted during the flood.',
    `  * New connections/s: ${s.connFlows.toLocaleString('en-US')} UDP packets, each from a new source port (a new`,
    '    conntrack entry and a new NAT mapping each), sent unpaced through a raw socket; the rate is counted',
    '    at the receiver between the first and last arrival. The device masquerades towards the server',
    '    (`masquerade: true` on the inside Iface; `MASQUERADE` / nft `masquerade`).',
    `  * Latency: ${s.pingCount} pings ${s.pingInterval * 1000} ms apart, idle and while a paced 64-byte stream runs at`,
    '    50% of the same device\'s loss-free rate from the same run.',
    '',
  ];
  if (limited.length || notTwice.length) {
    md.push('**Generator limits.** The single-core generator offers at most a few hundred thousand packets/s here.');
    if (limited.length) {
      md.push(`At ${limited.length} point(s) (${[...new Set(limited.map((p) => `${p.device}@${p.rules}`))].join(', ')}) the device forwarded`,
        'everything the generator could offer, so the loss-free rate shown is a lower bound.');
    }
    if (notTwice.length) {
      md.push(`At ${notTwice.length} point(s) the flood was less than twice the loss-free rate (${[...new Set(notTwice.map((p) => `${p.device}@${p.rules}`))].join(', ')}).`);
    }
    md.push('');
  }
  md.push('## Results', '', 'Medians over runs; (min–max) when there was more than one run.', '');
  for (const metric of ['udp', 'flood', 'tcp', 'p50idle', 'p99idle', 'p50load', 'p99load', 'conn', 'connDelivered', 'load', 'reload'] as Metric[]) {
    if (chartRows(r, metric).length === 0 && metric !== 'load') continue;
    md.push(`### ${METRICS[metric].title}`, '', table(r, metric), '');
  }
  if (r.control?.length) md.push('### Control plane (T8): start-up and reload of the same rules', '', controlTable(r.control), '');
  md.push(...shapeSection(r));
  md.push('## Charts', '', ...embedded.flatMap((e) => [e, '']));
  // The analysis of the gaps (profiles, causes) is written by hand next to this generator, so a
  // regenerated page keeps it; it names the run its numbers come from.
  const analysis = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'analysis.md');
  if (existsSync(analysis)) md.push(readFileSync(analysis, 'utf8').trim(), '');
  md.push(
    '## Limitations of this harness',
    '',
    '* One load core both generates and receives, so the highest rate it can push through a device and',
    '  count is a few hundred thousand 64-byte packets/s here; fast devices at 0 rules hit that ceiling',
    '  (marked above, and ratios against them are reported as bounds, not as met).',
    '* New connections/s is measured with one unpaced burst; devices that drop part of it are rated on',
    '  the flows they delivered (the delivered share is in its own table).',
    '* Ping percentiles are over the replies received; lost pings are not counted as latency.',
    '* T8 (bench/control.ts): nacl-router start-up is process start to the first ping forwarded (a ping every',
    '  10 ms), including the harness moving the TAP links into the namespaces; its reload is `ctl reload` as',
    '  the client sees it; iptables-restore and `nft -f` load the same rules into an empty namespace, then',
    '  replace them with the second file. The forwarding pause is what the router reports: the install step',
    '  and the longest event-loop block during the reload (on a shared machine the latter includes other load).',
    '',
  );
  md.push(
    '## Running the benchmark',
    '',
    '```sh',
    'sudo npm run bench -- --quick      # ~10 minutes: 0 and 10,000 rules, short trials, 3 runs',
    'sudo npm run bench                 # full: 0 / 100 / 1,000 / 10,000 / 100,000 rules (~30 minutes)',
    'sudo npm run bench -- --devices nacl-router,iptables --rules 0,1000 --runs 5',
    'node build/bench/run.js --report bench/results/FILE.json   # regenerate this page only',
    '```',
    '',
    'Needs root, iproute2, iptables (legacy), nftables, iperf3, ping, taskset/chrt and gcc (the C programs',
    'in `bench/ref/` are compiled at run time into the system temp directory). The nacl-router device needs',
    '`npm run build` and the native driver; without them it is skipped with a message. Each run writes',
    '`bench/results/<timestamp>.json` with every raw trial, the machine description and tool versions.',
    'By default the benchmark\'s processes run SCHED_FIFO (`--sched nice` to avoid that), which keeps',
    'other work on the machine from distorting the numbers but slows that work down while it runs.',
    '',
  );
  if (skipped.length) {
    md.push('## Devices not measured', '', ...skipped.map((d) => `* ${d.label}: ${d.reason}`), '');
  }
  if (failed.length) {
    md.push('## Failed points', '', ...failed.map((p) => `* run ${p.run + 1}, ${p.device}, ${p.rules} rules${p.nat ? ', nat' : ''}: ${p.error}`), '');
  }
  const mdPath = join(docsDir, 'benchmarks.md');
  writeFileSync(mdPath, md.join('\n'));
  written.unshift(mdPath);
  return written;
}

const ms0 = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(0));

/** T8 from the control-plane comparison: at each rule count, nacl-router's whole reload against
 *  iptables-restore of the same rules, and the forwarding pause (target < 5 ms). */
function controlTarget(points: ControlPoint[]): Target {
  const sum = controlSummary(points);
  const at = (d: string, n: number) => sum.find((s) => s.device === d && s.rules === n);
  const counts = [...new Set(sum.map((s) => s.rules))].sort((a, b) => a - b);
  let met = counts.length > 0;
  const parts: string[] = [];
  for (const n of counts) {
    const nr = at('nacl-router', n);
    const ipt = at('iptables', n);
    const nft = at('nft', n);
    if (!nr?.reloadMs || !ipt?.reloadMs) { met = false; parts.push(`${n} rules: not measured`); continue; }
    if (nr.reloadMs > ipt.reloadMs || (nr.pauseMs ?? Infinity) >= 5) met = false;
    parts.push(`${n.toLocaleString('en')} rules: reload ${ms0(nr.reloadMs)} ms vs iptables-restore ${ms0(ipt.reloadMs)} ms (${(nr.reloadMs / ipt.reloadMs).toFixed(2)}x), nft -f ${ms0(nft?.reloadMs)} ms;` +
      ` start-up to first forwarded packet ${ms0(nr.startMs)} ms vs ${ms0(ipt.startMs)} / ${ms0(nft?.startMs)} ms; pause ${nr.pauseMs ?? '-'} ms (longest event-loop block ${nr.loopMaxMs ?? '-'} ms)`);
  }
  return {
    id: 'T8', text: 'control plane: a whole reload no slower than iptables-restore of the same rules, forwarding pause < 5 ms',
    status: met ? 'met' : 'not met', measured: parts.join('; '),
  };
}

function controlTable(points: ControlPoint[]): string {
  const rows = controlSummary(points).sort((a, b) => a.rules - b.rules || a.device.localeCompare(b.device));
  const lines = ['| device | rules | start-up (ms) | reload (ms) | pause (ms) | longest event-loop block (ms) | runs |', '|---|---:|---:|---:|---:|---:|---:|'];
  for (const s of rows) lines.push(`| ${s.device} | ${s.rules.toLocaleString('en')} | ${ms0(s.startMs)} | ${ms0(s.reloadMs)} | ${s.pauseMs ?? '-'} | ${s.loopMaxMs ?? '-'} | ${s.n} |`);
  return lines.join('\n');
}
