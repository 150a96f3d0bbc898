// `npm run bench [-- OPTIONS]`: runs the side-by-side benchmark (as root) and writes
// bench/results/<timestamp>.json plus the generated docs/benchmarks.md and its SVG charts.
//   --quick            0 and 10,000 rules, shorter trials, 3 runs (about 10 minutes)
//   --smoke            one very short point per device (what the smoke test runs)
//   --devices a,b      only these devices (nacl-router, iptables, nft-linear, nft-set, ref-rw, ref-vnet)
//   --rules 0,1000     rule counts;  --conn-rules 0  rule counts for new connections/s
//   --shapes a,b|all|none  other rule shapes (tcp-drop, udp-drop, tcp-accept, udp-accept, acl, fw,
//                      ipc; full runs: all) measured at --shape-rules (default 10000), --shape-runs times
//   --runs N           repetitions (the report takes medians)
//   --sched rt|nice    priority of the benchmark's processes over other work (default rt)
//   --no-docs          write the JSON only
//   --report FILE      regenerate the docs from an existing results file, measure nothing
//   --docs DIR         write the report there instead of docs/;  --results DIR  the JSON there
// The guest image (build time, size, boot to first forwarded packet, TCP through the guest
// under QEMU) has a benchmark of its own: npm run bench:image (docs/image.md).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runBench, type BenchOptions, type BenchResults, type Mode, type Settings } from './harness.js';
import { repoRoot } from './programs.js';
import type { SchedPolicy } from './sched.js';
import { writeReport } from './report.js';
import { isShape, SHAPES, type Shape } from './gen/shapes.js';

function numbers(v: string | undefined, flag: string): number[] {
  if (!v) throw new Error(`${flag} needs a value`);
  const out = v.split(',').map((x) => Number(x.trim().replace(/_/g, '')));
  if (out.some((x) => !Number.isInteger(x) || x < 0)) throw new Error(`${flag}: expected comma-separated counts, got ${v}`);
  return out;
}

export async function main(argv: string[]): Promise<number> {
  let mode: Mode = 'full';
  let docs = true;
  let reportOnly: string | undefined;
  let docsDir: string | undefined;
  let resultsDir: string | undefined;
  const overrides: Partial<Settings> = {};
  let devices: string[] | undefined;
  let sched: SchedPolicy = 'rt';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case '--quick': mode = 'quick'; break;
      case '--smoke': mode = 'smoke'; break;
      case '--no-docs': docs = false; break;
      case '--devices': devices = (argv[++i] ?? '').split(',').filter(Boolean); break;
      case '--rules': overrides.rules = numbers(argv[++i], a); break;
      case '--conn-rules': overrides.connRules = numbers(argv[++i], a); break;
      case '--shapes': {
        const v = argv[++i] ?? '';
        const list = v === 'all' ? SHAPES.filter((x) => x !== 'blocklist') : v === 'none' ? [] : v.split(',').filter(Boolean);
        const bad = list.filter((x) => !isShape(x));
        if (bad.length > 0) { process.stderr.write(`bench: unknown shape ${bad.join(', ')} (${SHAPES.join(', ')})\n`); return 2; }
        overrides.shapes = list as Shape[];
        break;
      }
      case '--shape-rules': overrides.shapeRules = numbers(argv[++i], a); break;
      case '--shape-runs': overrides.shapeRuns = numbers(argv[++i], a)[0]; break;
      case '--runs': overrides.runs = numbers(argv[++i], a)[0]; break;
      case '--sched': {
        const v = argv[++i];
        if (v !== 'rt' && v !== 'nice') { process.stderr.write('bench: --sched takes rt or nice\n'); return 2; }
        sched = v;
        break;
      }
      case '--report': reportOnly = argv[++i]; break;
      case '--docs': docsDir = argv[++i]; break;
      case '--results': resultsDir = argv[++i]; break;
      case '-h': case '--help':
        process.stdout.write(readFileSync(new URL(import.meta.url)).toString().split('\n')
          .filter((l) => l.startsWith('// ') || l === '//').map((l) => l.slice(3)).join('\n') + '\n');
        return 0;
      default:
        process.stderr.write(`bench: unknown option ${a} (see --help)\n`);
        return 2;
    }
  }
  const root = repoRoot();
  let results: BenchResults;
  if (reportOnly) {
    results = JSON.parse(readFileSync(reportOnly, 'utf8')) as BenchResults;
  } else {
    const opts: BenchOptions = { mode, overrides, sched, ...(devices ? { devices } : {}) };
    results = await runBench(opts);
    const dir = resultsDir ?? join(root, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${results.startedAt.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(results, null, 1) + '\n');
    process.stderr.write(`results: ${file}\n`);
  }
  if (docs) {
    const written = await writeReport(results, docsDir ?? join(root, 'docs'));
    process.stderr.write(`report: ${written.join(', ')}\n`);
  }
  return 0;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: Error) => {
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
