// `nacl-router run`: the errors a user meets before anything starts are clear and located,
// and nothing is left behind.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, IS_ROOT } from '../../lab/netlab.js';

const BIN = join(ROOT, 'bin', 'nacl-router.js');
const built = spawnSync('test', ['-f', join(ROOT, 'dist', 'src', 'cli.js')]).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'nacl-run-'));
const good = join(dir, 'good.nacl');
writeFileSync(good, 'Iface eth0 { index: 0, address: 10.9.0.1, netmask: 255.255.255.0 }\n');
chmodSync(dir, 0o755);
chmodSync(good, 0o644);
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], asUser?: string) {
  const cmd = asUser ? 'runuser' : process.execPath;
  const argv = asUser ? ['-u', asUser, '--', process.execPath, BIN, ...args] : [BIN, ...args];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 60000 });
  return { code: r.status, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

t.test('run errors', { skip: built ? false : 'needs the build' }, async (t) => {
  const bad = join(dir, 'bad.nacl');
  writeFileSync(bad, 'Iface eth0 {\n  index: 0,\n  adress: 10.9.0.1,\n  netmask: 255.255.255.0\n}\n');
  const r1 = run(['run', bad]);
  t.equal(r1.code, 1, 'invalid config exits 1');
  t.match(r1.out, /bad\.nacl:3:3: error: /, 'located error');
  t.match(r1.out, /did you mean 'address'\?/, 'hint');

  const r2 = run(['run', good, '--link', '0=bogus:x']);
  t.equal(r2.code, 2, 'bad --link is a usage error');
  t.match(r2.out, /bad --link '0=bogus:x'/);

  const r3 = run(['run', join(dir, 'missing.nacl')]);
  t.equal(r3.code, 2, 'unreadable file exits 2');
  t.match(r3.out, /cannot read/);

  const r4 = run([good, '--frobnicate']);
  t.equal(r4.code, 2, 'unknown option');

  if (IS_ROOT) {
    const r5 = run(['run', good, '--link', '0=packet:nosuchif0']);
    t.equal(r5.code, 2, 'missing interface exits 2');
    t.match(r5.out, /nosuchif0/, 'names the interface');
    t.notMatch(r5.out, /\n\s+at /, 'no stack trace');

    const r6 = run(['run', good], 'nobody');
    t.equal(r6.code, 2, 'not root exits 2');
    t.match(r6.out, /must run as root/);
  }
});

t.test('help', { skip: built ? false : 'needs the build' }, async (t) => {
  const r = run(['run', '--help']);
  t.equal(r.code, 0);
  t.match(r.out, /--link N=tap:NAME/);
  const top = run(['--help']);
  t.match(top.out, /check/);
  t.match(top.out, /run/);
});

t.test('Timers log their data; SIGTERM prints counters and removes the links', { skip: built && IS_ROOT ? false : 'needs root and the build' }, async (t) => {
  const conf = join(dir, 'timer.nacl');
  writeFileSync(conf, [
    'Iface eth0 { index: 0, address: 10.9.0.1, netmask: 255.255.255.0 }',
    'Timer heartbeat { interval: 1, data: [ timestamp, stats, memory, stack-sampling ] }',
  ].join('\n'));
  const tap = `nrtm${process.pid % 100000}`;
  const { spawn } = await import('node:child_process');
  const p = spawn(process.execPath, [BIN, 'run', conf, '--link', `0=tap:${tap}`, '--ctl', 'none'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  t.teardown(() => { if (p.exitCode === null) p.kill('SIGKILL'); });
  // Wait for two heartbeats (1 s apart once the router runs; start-up includes the JIT warm-up).
  for (let i = 0; i < 200 && (out.match(/"timer":"heartbeat"/g) ?? []).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(spawnSync('ip', ['link', 'show', tap]).status, 0, 'TAP device exists while running');
  p.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
  t.equal(code, 0, 'clean exit');
  const timerLines = out.split('\n').filter((l) => /"timer":"heartbeat"/.test(l));
  t.ok(timerLines.length >= 2, `timer fired ${timerLines.length} times`);
  t.match(timerLines[0] ?? '', /"timestamp":"\d{4}-/, 'timestamp');
  t.match(timerLines[0] ?? '', /"stats":\{/, 'stats');
  t.match(timerLines[0] ?? '', /"memory":\{"rss":\d+/, 'memory');
  t.match(timerLines[0] ?? '', /"stack-sampling":"not supported"/, 'stack-sampling says it is not supported');
  t.match(out, /stopped; counters/, 'counters printed at stop');
  t.not(spawnSync('ip', ['link', 'show', tap]).status, 0, 'TAP device gone after stop');
});
