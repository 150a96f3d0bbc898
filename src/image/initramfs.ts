// The guest's initramfs: only what runs. busybox (the init script's shell, mount, insmod, ip,
// poweroff), the NIC modules, node with the shared libraries it links, the router bundled
// into one file by esbuild with its native addon, the NaCl file, and /init. zstd-compressed:
// it decompresses several times faster than xz under emulation.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { cpioChunks, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, type CpioEntry } from './cpio.js';

/** Where the router lives in the guest: a package root of its own, so the bundle finds its
 *  native addon the way an installed package does. */
export const GUEST_ROOT = 'opt/nacl-router';
export const GUEST_CONFIG = '/etc/nacl/config.nacl';
const ADDON_REL = 'drivers/native/build/Release/nacl_link.node';
const BUSYBOX_APPLETS = ['sh', 'mount', 'insmod', 'ip', 'readlink', 'sort', 'cat', 'poweroff', 'kill'];
/** zstd level: on node's binary 9 gives 28.2 MB in 7 s where 19 gives 24.6 MB in 100 s (gzip -9:
 *  32.3 MB); decompression speed hardly depends on the level. */
const ZSTD_LEVEL = 9;

/** PID 1 in the guest. Kernel command-line words of the form NAME=VALUE reach it as
 *  environment: NACL_WARMUP=1 runs the JIT warm-up, NO_COLOR=1 plain log lines. The line
 *  "poweroff" typed on the serial console stops the router and powers the guest off. */
export function initScript(nodeFlags: string[]): string {
  return `#!/bin/sh
# nacl-router guest init: mounts, NIC modules, NICs up with no IP configuration, the router on
# AF_PACKET links (Iface index N = the N-th NIC in PCI order, or the NIC with that MAC), and a
# clean power-off when the router exits.
export PATH=/bin
mount -t devtmpfs -o nosuid,mode=0755 dev /dev
mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sys /sys
mount -t tmpfs -o nosuid,nodev,mode=0755 run /run
mount -t tmpfs -o nosuid,nodev tmp /tmp
exec </dev/console >/dev/console 2>&1
read -r up _ </proc/uptime
echo "init: started ($up s after the kernel)"
while read -r m; do
  insmod "/lib/modules/$m" || echo "init: insmod $m failed"
done </etc/nacl/modules
for i in /sys/class/net/*; do
  [ -e "$i/device" ] && echo "$(readlink -f "$i/device") \${i##*/}"
done | sort >/run/nics
links=''
n=0
while read -r path ifname; do
  mac=$(cat "/sys/class/net/$ifname/address")
  ip link set "$ifname" up
  links="$links --link $n=nic:$ifname --link $mac=nic:$ifname"
  echo "init: NIC $n: $ifname $mac"
  n=$((n + 1))
done </run/nics
warm=--no-warmup
[ "$NACL_WARMUP" = 1 ] && warm=
read -r up _ </proc/uptime
echo "init: starting nacl-router ($up s)"
/bin/node ${nodeFlags.join(' ')} /${GUEST_ROOT}/start.cjs ${GUEST_CONFIG} $links --ctl /run/nacl-router.sock $warm &
router=$!
# The line "poweroff" on the console stops the router (SIGTERM: it prints its counters).
while read -r line; do
  [ "$line" = poweroff ] && kill -TERM $router
done </dev/console &
wait $router
echo "init: nacl-router exited with status $?; powering off"
poweroff -f
`;
}

/** The shared libraries an executable loads, as ldd names them (absolute paths). */
export function sharedLibs(exe: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [exe], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const text = `${(e as { stdout?: string }).stdout ?? ''}${(e as { stderr?: string }).stderr ?? ''}`;
    if (/not a dynamic executable|statically linked/.test(text)) return [];
    throw new Error(`ldd ${exe}: ${text.trim() || (e as Error).message}`);
  }
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]);
    else if (/=>\s*not found/.test(line)) throw new Error(`${exe}: ${line.trim()}`);
  }
  return libs;
}

/** The router as the guest runs it: the run command (dist/src/image/guest-entry.js and everything
 *  it imports, pino included) and the build worker the run command starts as a thread
 *  (dist/src/control/build-worker.js; src/control/reload.ts finds it next to the bundle). */
export interface RouterBundle {
  router: Uint8Array;
  worker: Uint8Array;
}

/** Bundles the router into CommonJS files with esbuild (a devDependency). */
export async function bundleRouter(root: string): Promise<RouterBundle> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new Error('esbuild is needed to bundle the router into the image: run npm install in the package root');
  }
  const one = async (entry: string): Promise<Uint8Array> => {
    const r = await esbuild.build({
      entryPoints: [join(root, 'dist', entry)],
      bundle: true,
      platform: 'node',
      // CommonJS, so that START_SCRIPT can load it through V8's code cache (node 20 has none for
      // ES modules).
      format: 'cjs',
      target: 'node20',
      write: false,
      minifyWhitespace: true,
      minifySyntax: true,
      legalComments: 'none',
      charset: 'ascii',
      logLevel: 'silent',
      define: { 'import.meta.url': '__naclModuleUrl' },
      banner: { js: "const __naclModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
    });
    return r.outputFiles[0].contents;
  };
  return { router: await one('src/image/guest-entry.js'), worker: await one(join('src', 'control', WORKER_FILE)) };
}

/** The build worker's file name beside router.cjs (the name reload.ts looks for). */
export const WORKER_FILE = 'build-worker.js';

/** One digest of both bundles (the manifest's bundleSha256). */
export function bundleDigest(b: RouterBundle): string {
  return createHash('sha256').update(b.router).update(b.worker).digest('hex');
}

/** The guest's node entry: compiles router.cjs with the code cache router.cjs.cache (made by
 *  makeCodeCache when the image was built; parsing and compiling the bundle is the largest
 *  part of the router's start-up, and emulation multiplies it), then runs it. With
 *  NACL_ROUTER_MAKE_CODE_CACHE=FILE it writes the cache after loading instead. */
export const START_SCRIPT = `'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { Script } = require('node:vm');
const { wrap } = require('node:module');
const file = __dirname + '/router.cjs';
const make = process.env.NACL_ROUTER_MAKE_CODE_CACHE;
let cachedData;
if (!make) try { cachedData = readFileSync(file + '.cache'); } catch {}
const script = new Script(wrap(readFileSync(file, 'latin1')), { filename: file, cachedData });
if (cachedData && script.cachedDataRejected) process.stderr.write('nacl-router: code cache rejected (another node or other flags); compiling\\n');
const mod = { exports: {} };
script.runInThisContext()(mod.exports, require, mod, file, __dirname);
if (make) writeFileSync(make, script.createCachedData());
`;

/** Runs the bundle once on this node, with the guest's flags, far enough to load the
 *  configuration, and returns V8's code cache for it (functions compiled so far included). */
export function makeCodeCache(bundle: RouterBundle, config: string, nodeFlags: string[]): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'nacl-codecache-'));
  try {
    writeFileSync(join(dir, 'router.cjs'), bundle.router);
    writeFileSync(join(dir, WORKER_FILE), bundle.worker);
    writeFileSync(join(dir, 'start.cjs'), START_SCRIPT);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'nacl-router' }));
    const out = join(dir, 'router.cjs.cache');
    execFileSync(process.execPath, [...nodeFlags, join(dir, 'start.cjs'), config], {
      env: { ...process.env, NACL_ROUTER_MAKE_CODE_CACHE: out }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface InitramfsInputs {
  root: string;
  node: string;
  busybox: string;
  modules: string[];
  config: string;
  bundle: RouterBundle;
  nodeFlags: string[];
}

/** Builds the initramfs at `out`; returns what went in (sizes before compression). */
export async function writeInitramfs(inp: InitramfsInputs, out: string): Promise<{ files: Record<string, number> }> {
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const dir = (d: string) => {
    const parts = d.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (!dirs.has(p)) { dirs.add(p); entries.push({ name: p, mode: S_IFDIR | 0o755 }); }
    }
  };
  const file = (name: string, data: Uint8Array | string, perm = 0o644) => {
    dir(dirname(name));
    entries.push({ name, mode: S_IFREG | perm, data });
  };
  for (const d of ['bin', 'dev', 'proc', 'sys', 'run', 'tmp', 'etc/nacl', 'lib/modules']) dir(d);
  entries.push({ name: 'dev/console', mode: S_IFCHR | 0o600, rdev: { major: 5, minor: 1 } });

  const work = mkdtempSync(join(tmpdir(), 'nacl-image-'));
  try {
    // node without its symbol tables (~13 MB less); the libraries it loads at their own paths.
    const node = join(work, 'node');
    try {
      execFileSync('strip', ['--strip-all', '-o', node, inp.node], { stdio: 'ignore' });
    } catch {
      execFileSync('cp', [inp.node, node]);
    }
    file('bin/node', readFileSync(node), 0o755);
    file('bin/busybox', readFileSync(inp.busybox), 0o755);
    for (const a of BUSYBOX_APPLETS) entries.push({ name: `bin/${a}`, mode: S_IFLNK | 0o777, data: 'busybox' });
    const libs = new Set([...sharedLibs(inp.node), ...sharedLibs(inp.busybox)]);
    for (const lib of libs) file(lib.slice(1), readFileSync(realpathSync(lib)), 0o755);
    for (const m of inp.modules) file(`lib/modules/${basename(m)}`, readFileSync(m));
    file('etc/nacl/modules', inp.modules.map((m) => basename(m) + '\n').join(''));
    file(GUEST_CONFIG.slice(1), readFileSync(inp.config));
    file('init', initScript(inp.nodeFlags), 0o755);
    const version = (JSON.parse(readFileSync(join(inp.root, 'package.json'), 'utf8')) as { version: string }).version;
    file(`${GUEST_ROOT}/package.json`, JSON.stringify({ name: 'nacl-router', version }) + '\n');
    file(`${GUEST_ROOT}/start.cjs`, START_SCRIPT);
    file(`${GUEST_ROOT}/router.cjs`, inp.bundle.router);
    file(`${GUEST_ROOT}/${WORKER_FILE}`, inp.bundle.worker);
    file(`${GUEST_ROOT}/router.cjs.cache`, makeCodeCache(inp.bundle, inp.config, inp.nodeFlags));
    const addon = join(inp.root, ADDON_REL);
    if (!existsSync(addon)) throw new Error(`native link driver not built (${addon} missing): run npm run install`);
    file(`${GUEST_ROOT}/${ADDON_REL}`, readFileSync(addon), 0o755);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  await compressTo(cpioChunks(entries), out);
  const files: Record<string, number> = {};
  for (const e of entries) if ((e.mode & 0o170000) === S_IFREG && e.data) files['/' + e.name] = e.data.length;
  return { files };
}

function compressTo(chunks: Uint8Array[], out: string): Promise<void> {
  const fd = openSync(out, 'w');
  return new Promise<void>((resolve, reject) => {
    const z = spawn('zstd', ['-q', `-${ZSTD_LEVEL}`, '-T0', '-c'], { stdio: ['pipe', fd, 'pipe'] });
    const stdin = z.stdin!;
    let err = '';
    z.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    z.on('error', (e) => reject((e as NodeJS.ErrnoException).code === 'ENOENT' ? new Error('zstd not found (install it: sh scripts/deps.sh)') : e));
    z.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`zstd failed (${code}): ${err.trim()}`))));
    stdin.on('error', () => { /* reported by exit */ });
    (async () => {
      for (const c of chunks) if (!stdin.write(c)) await new Promise((r) => stdin.once('drain', r));
      stdin.end();
    })().catch(reject);
  }).finally(() => closeSync(fd));
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}
