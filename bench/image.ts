// `npm run bench:image [-- OPTIONS]` (root): the guest image, measured.
//   build time of `nacl-router image examples/seed.nacl` (kernel package taken from the cache,
//   or downloaded once first), the image's size, and for each boot: time from QEMU's start to
//   the kernel handing over to /init, to the router running, and to the first packet forwarded
//   through the guest (a ping from the outside host's bastion address to an inside host every
//   50 ms; also QEMU's CPU time until then, which a shared machine inflates less than the
//   wall-clock times), then TCP throughput through the guest (iperf3, outside -> inside, 20 s; the last 5 s too).
//   Boots: kernel + initramfs without the JIT warm-up (the default), with it, and with --disk
//   the vmdk disk image (syslinux).
//   --disk        also build and boot the vmdk disk image
//   --runs N      boots of each kind (default 1; the report takes medians)
//   --json FILE   also write the results as JSON
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, ROOT, seedHosts, sh, skipReason, waitFor } from '../lab/netlab.js';

const BIN = join(ROOT, 'bin', 'nacl-router.js');
const SEED = join(ROOT, 'examples', 'seed.nacl');
const CLK_TCK = 100;
const TCP_SECONDS = 20;

interface BootResult { media: string; warmup: boolean; initS: number; runningS: number; firstPacketS: number; qemuCpuS: number; tcpMbps: number; tcpLastMbps: number }

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 : NaN;
}

/** Runs `nacl-router image` and returns its wall time in seconds. */
function build(dir: string, disk: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [BIN, 'image', SEED, '-o', dir, ...(disk ? ['--format', 'vmdk'] : [])], { stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('exit', (code) => (code === 0 ? resolve((performance.now() - t0) / 1000) : reject(new Error(`nacl-router image exited ${code}`))));
  });
}

async function boot(dir: string, taps: string[], macs: string[], media: 'kernel' | 'disk', warmup: boolean): Promise<BootResult> {
  const lab = new Lab(null, 'bh');
  try {
    return await bootIn(lab, dir, taps, macs, media, warmup);
  } finally {
    await lab.cleanup();
  }
}

async function bootIn(lab: Lab, dir: string, taps: string[], macs: string[], media: 'kernel' | 'disk', warmup: boolean): Promise<BootResult> {
  const vm = JSON.parse(readFileSync(join(dir, 'vm.json'), 'utf8'));
  vm.warmup = warmup;
  writeFileSync(join(dir, 'vm.json'), JSON.stringify(vm, null, 2));
  // Console lines stamped as they arrive; t0 = boot's "starting QEMU" line.
  const stamps: Array<{ t: number; line: string }> = [];
  let t0 = 0;
  const p = lab.spawn(null, process.execPath, [BIN, 'boot', dir, ...(media === 'disk' ? ['--disk'] : [])], { ...process.env, NO_COLOR: '1' });
  let buf = '';
  const onData = (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const t = performance.now();
      if (t0 === 0 && /^boot: qemu-system-x86_64 /.test(line)) t0 = t;
      stamps.push({ t, line });
    }
  };
  p.stdout!.on('data', onData);
  p.stderr!.on('data', onData);
  const at = (re: RegExp) => stamps.find((s) => re.test(s.line));
  // QEMU's own CPU time (user + system), sampled: on a shared machine the wall-clock times grow
  // with the load, the CPU time much less.
  const cpu: Array<{ t: number; s: number }> = [];
  const sampler = setInterval(() => {
    const pid = sh('pgrep', ['-P', String(p.pid), '-x', 'qemu-system-x86'], { allowFail: true }).trim().split('\n')[0];
    if (!pid) return;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      cpu.push({ t: performance.now(), s: (Number(stat[11]) + Number(stat[12])) / CLK_TCK });
    } catch {
      // exited
    }
  }, 50);
  await waitFor('QEMU to open the TAP devices', () => Boolean(at(/NICs attached/)) || p.exitCode !== null, 120_000);
  const outside = lab.ns('bo');
  const inside = lab.ns('bi');
  seedHosts(lab, outside, inside, taps[0], taps[1]);
  // The outside host knows the router's MAC: the first ping is not held up by its own ARP retries.
  lab.exec(outside, 'ip', ['neigh', 'replace', '10.0.0.2', 'lladdr', macs[0], 'dev', taps[0], 'nud', 'permanent']);
  const ping = lab.spawn(outside, 'ping', ['-D', '-n', '-i', '0.05', '-W', '1', '-I', '10.55.1.1', '192.168.0.10']);
  const epochAtT0 = () => Date.now() - (performance.now() - t0);
  await waitFor('a ping through the guest', () => /bytes from 192\.168\.0\.10/.test(ping.out()) || p.exitCode !== null, 180_000);
  if (p.exitCode !== null) throw new Error(`boot exited (${p.exitCode})`);
  const m = /\[(\d+\.\d+)\] \d+ bytes from 192\.168\.0\.10/.exec(ping.out())!;
  const firstPacketS = (Number(m[1]) * 1000 - epochAtT0()) / 1000;
  clearInterval(sampler);
  const tFirst = t0 + firstPacketS * 1000;
  const qemuCpuS = cpu.filter((c) => c.t <= tFirst).at(-1)?.s ?? NaN;
  ping.kill('SIGINT');
  const initS = ((at(/init: starting nacl-router/)?.t ?? NaN) - t0) / 1000;
  const runningS = ((at(/INFO: running/)?.t ?? NaN) - t0) / 1000;

  lab.spawn(inside, 'iperf3', ['-s', '-B', '192.168.0.10', '-1']);
  await lab.listening(inside, [5201]);
  // 20 s in 5 s intervals: under TCG the router's code is compiled while the first seconds of
  // traffic pass (throughput ramps up), so the last interval is reported beside the average.
  const out = lab.exec(outside, 'iperf3', ['-c', '192.168.0.10', '-B', '10.55.1.1', '-t', String(TCP_SECONDS), '-i', '5', '-J'], { timeout: 120_000, allowFail: true });
  let tcpMbps = NaN;
  let tcpLastMbps = NaN;
  try {
    const j = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } }; intervals: Array<{ sum: { bits_per_second: number } }> };
    tcpMbps = j.end.sum_received.bits_per_second / 1e6;
    tcpLastMbps = (j.intervals.at(-1)?.sum.bits_per_second ?? NaN) / 1e6;
  } catch {
    process.stderr.write(`bench:image: iperf3 gave no result:\n${out.slice(0, 500)}\n`);
  }
  p.kill('SIGINT');
  await waitFor('boot to exit', () => p.exitCode !== null, 30_000);
  return { media, warmup, initS, runningS, firstPacketS, qemuCpuS, tcpMbps, tcpLastMbps };
}

async function main(argv: string[]): Promise<number> {
  let runs = 1;
  let disk = false;
  let json: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--disk') disk = true;
    else if (a === '--runs') runs = Math.max(1, Number(argv[++i]) | 0);
    else if (a === '--json') json = argv[++i];
    else if (a === '-h' || a === '--help') {
      process.stdout.write(readFileSync(new URL(import.meta.url)).toString().split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n') + '\n');
      return 0;
    } else {
      process.stderr.write(`bench:image: unknown option ${a}\n`);
      return 2;
    }
  }
  const why = skipReason();
  if (why) {
    process.stderr.write(`bench:image: ${why}\n`);
    return 2;
  }
  const lab = new Lab(null, 'bm');
  try {
    const dir = lab.tmpdir('bench-image');
    const taps = [lab.name('bmo'), lab.name('bmi')];
    const macs = ['52:54:00:bb:00:00', '52:54:00:bb:00:01'];
    writeFileSync(join(dir, 'vm.json'), JSON.stringify({ config: SEED, net: taps.map((tap, i) => ({ device: 'virtio', mac: macs[i], tap })) }));
    // The first build fills the kernel cache; the one timed starts from it.
    await build(dir, false);
    const buildS = await build(dir, disk);
    const manifest = JSON.parse(readFileSync(join(dir, 'image.json'), 'utf8'));
    const files = readdirSync(dir).filter((f) => f !== 'vm.json');
    const sizes = Object.fromEntries(files.map((f) => [f, statSync(join(dir, f)).size]));
    const imageDirBytes = manifest.bytes.total + statSync(join(dir, 'image.json')).size;
    const boots: BootResult[] = [];
    const kinds: Array<['kernel' | 'disk', boolean]> = [['kernel', false], ['kernel', true]];
    if (disk) kinds.push(['disk', false]);
    for (let r = 0; r < runs; r++) {
      for (const [media, warmup] of kinds) {
        const b = await boot(dir, taps, macs, media, warmup);
        process.stderr.write(`bench:image: ${JSON.stringify(b)}\n`);
        boots.push(b);
      }
    }
    const rows = kinds.map(([media, warmup]) => {
      const bs = boots.filter((b) => b.media === media && b.warmup === warmup);
      return { media, warmup, initS: median(bs.map((b) => b.initS)), runningS: median(bs.map((b) => b.runningS)), firstPacketS: median(bs.map((b) => b.firstPacketS)), qemuCpuS: median(bs.map((b) => b.qemuCpuS)), tcpMbps: median(bs.map((b) => b.tcpMbps)), tcpLastMbps: median(bs.map((b) => b.tcpLastMbps)) };
    });
    const mb = (n: number) => (n / 1e6).toFixed(1);
    const lines = [
      `guest image of examples/seed.nacl (kernel ${manifest.kernel.package} ${manifest.kernel.version}, node ${manifest.node.version}, ${sh('nproc', []).trim()} host cores, ${runs} run${runs > 1 ? 's' : ''}, QEMU ${sh('sh', ['-c', 'test -w /dev/kvm && echo KVM || echo TCG']).trim()})`,
      `build time (kernel from the cache): ${buildS.toFixed(1)} s`,
      `image directory: ${mb(imageDirBytes)} MB (kernel ${mb(manifest.bytes.kernel)} MB + initramfs ${mb(manifest.bytes.initrd)} MB zstd, ${mb(manifest.initrd.contents)} MB unpacked)${disk ? `; disk.vmdk ${mb(sizes['disk.vmdk'])} MB` : ''}`,
      '',
      `| boot | warm-up | QEMU start -> /init starts the router | -> router running | -> first forwarded packet | QEMU CPU time until then | TCP through the guest, ${TCP_SECONDS} s (last 5 s) |`,
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...rows.map((r) => `| ${r.media === 'kernel' ? '-kernel/-initrd' : 'vmdk disk (syslinux)'} | ${r.warmup ? 'yes' : 'no'} | ${r.initS.toFixed(1)} s | ${r.runningS.toFixed(1)} s | ${r.firstPacketS.toFixed(1)} s | ${r.qemuCpuS.toFixed(1)} s | ${r.tcpMbps.toFixed(0)} (${r.tcpLastMbps.toFixed(0)}) Mbit/s |`),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    if (json) writeFileSync(json, JSON.stringify({ buildS, imageDirBytes, sizes, manifest, boots, rows }, null, 2) + '\n');
    return 0;
  } finally {
    await lab.cleanup();
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => {
  process.stderr.write(`bench:image: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
