// The guest kernel: Debian's cloud kernel package, fetched with `apt-get download` (pinned
// package and version; vm.json's "kernel" overrides), cached outside the repository, and
// reduced to a kit: the vmlinuz plus the NIC modules in load order. Which modules a NIC
// driver needs is read from the kernel's own dependency data: `depmod` writes modules.dep for
// the unpacked tree, and each driver is loaded after everything its line there names.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** The kernel images are built with and tested on. */
export const PINNED_KERNEL = { package: 'linux-image-6.1.0-57-cloud-amd64', version: '6.1.192-3' };
/** Debian's metapackage that depends on the current cloud kernel (the fallback when the
 *  pinned version has left the archive). */
const CLOUD_META = 'linux-image-cloud-amd64';
/** NIC drivers the guest loads: the virtio PCI transport, virtio-net, and VMware's vmxnet3
 *  (when the kernel has it). */
export const NIC_MODULES = ['virtio_pci', 'virtio_net', 'vmxnet3'];
const OPTIONAL_MODULES = new Set(['vmxnet3']);

export interface KernelKit {
  package: string;
  version: string;
  /** The kernel release (uname -r), e.g. 6.1.0-57-cloud-amd64. */
  release: string;
  /** True when this is the pinned package and version (or the one vm.json names). */
  pinned: boolean;
  vmlinuz: string;
  /** Module files in load order (dependencies first), absolute paths inside the kit. */
  modules: string[];
  /** Requested modules the kernel has built in or lacks, with why. */
  notes: string[];
  /** Where the .deb lives in the cache. */
  deb: string;
}

/** NACL_ROUTER_CACHE, else $XDG_CACHE_HOME/nacl-router, else ~/.cache/nacl-router. */
export function cacheDir(): string {
  const dir = process.env.NACL_ROUTER_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'nacl-router');
  mkdirSync(dir, { recursive: true });
  return dir;
}

function run(cmd: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { stderr?: string; message: string; code?: string };
    if (err.code === 'ENOENT') throw new Error(`${cmd} not found (install it: sh scripts/deps.sh)`);
    throw new Error(`${cmd} ${args.join(' ')}: ${(err.stderr || err.message).trim()}`);
  }
}

/** Parses "NAME" or "NAME=VERSION". */
export function parseKernelSpec(spec: string): { package: string; version: string | null } {
  const eq = spec.indexOf('=');
  return eq < 0 ? { package: spec, version: null } : { package: spec.slice(0, eq), version: spec.slice(eq + 1) };
}

/** The cached .deb for package (and version, when given), if any. */
function cachedDeb(dir: string, pkg: string, version: string | null): string | null {
  if (!existsSync(dir)) return null;
  const enc = version?.replace(/:/g, '%3a');
  const hit = readdirSync(dir).filter((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb') && (enc === undefined || f.startsWith(`${pkg}_${enc}_`)));
  return hit.length ? join(dir, hit.sort().at(-1)!) : null;
}

/** apt-get download into dir (through a private temporary directory, so a failed download
 *  leaves nothing behind). Runs `apt-get update` once and retries when apt knows no such
 *  package yet (a fresh machine). */
function aptDownload(dir: string, what: string, log: (msg: string) => void): string {
  const tmp = mkdtempSync(join(dir, '.download-'));
  try {
    log(`apt-get download ${what}`);
    try {
      run('apt-get', ['download', '-q', what], tmp);
    } catch (e) {
      if (!/Unable to locate|Can't select|not found|no installation candidate/i.test((e as Error).message)) throw e;
      if (typeof process.getuid === 'function' && process.getuid() !== 0) throw e;
      log('apt-get update (package lists do not know it yet)');
      run('apt-get', ['update', '-qq']);
      run('apt-get', ['download', '-q', what], tmp);
    }
    const got = readdirSync(tmp).filter((f) => f.endsWith('.deb'));
    if (got.length !== 1) throw new Error(`apt-get download ${what} produced no .deb`);
    renameSync(join(tmp, got[0]), join(dir, got[0]));
    return join(dir, got[0]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The kernel package named by the cloud metapackage right now. */
function currentCloudKernel(): string {
  const out = run('apt-cache', ['depends', CLOUD_META]);
  const m = /Depends:\s*(linux-image-\S+-cloud-amd64)/.exec(out);
  if (!m) throw new Error(`${CLOUD_META} depends on no kernel package`);
  return m[1];
}

/** Fetches (or finds in the cache) the kernel package and returns its kit. */
export function kernelKit(spec: string | undefined, log: (msg: string) => void = () => {}): KernelKit {
  const debs = join(cacheDir(), 'kernels');
  mkdirSync(debs, { recursive: true });
  const want = spec ? parseKernelSpec(spec) : { ...PINNED_KERNEL };
  let deb = cachedDeb(debs, want.package, want.version);
  let pinned = true;
  if (!deb) {
    try {
      deb = aptDownload(debs, want.version ? `${want.package}=${want.version}` : want.package, log);
    } catch (e) {
      if (spec) throw e; // the user named it: no substitute
      const current = currentCloudKernel();
      log(`warning: pinned kernel ${want.package}=${want.version} is not available (${(e as Error).message.split('\n')[0]}); using ${current}`);
      deb = cachedDeb(debs, current, null) ?? aptDownload(debs, current, log);
      pinned = false;
    }
  }
  const [pkg, version] = debFields(deb);
  const kitDir = join(debs, `${pkg}_${version}.kit`);
  const manifest = join(kitDir, 'kit.json');
  if (!existsSync(manifest)) buildKit(deb, kitDir);
  const kit = JSON.parse(readFileSync(manifest, 'utf8')) as { release: string; modules: string[]; notes: string[] };
  return {
    package: pkg, version, release: kit.release, pinned, deb,
    vmlinuz: join(kitDir, 'vmlinuz'),
    modules: kit.modules.map((m) => join(kitDir, 'modules', m)),
    notes: kit.notes,
  };
}

function debFields(deb: string): [string, string] {
  const out = run('dpkg-deb', ['--show', '--showformat=${Package}\\t${Version}', deb]);
  const [pkg, version] = out.trim().split('\t');
  return [pkg, version];
}

/** Unpacks the .deb into a temporary tree, runs depmod on it, and keeps the vmlinuz and the
 *  NIC modules (decompressed) with their load order. */
function buildKit(deb: string, kitDir: string): void {
  const tmp = mkdtempSync(join(cacheDir(), '.unpack-'));
  try {
    run('dpkg-deb', ['-x', deb, tmp]);
    const releases = existsSync(join(tmp, 'lib', 'modules')) ? readdirSync(join(tmp, 'lib', 'modules')) : [];
    if (releases.length !== 1) throw new Error(`${basename(deb)}: expected one lib/modules/RELEASE, found ${releases.length}`);
    const release = releases[0];
    const vmlinuz = join(tmp, 'boot', `vmlinuz-${release}`);
    if (!existsSync(vmlinuz)) throw new Error(`${basename(deb)}: no boot/vmlinuz-${release}`);
    run('depmod', ['-b', tmp, release]);
    const modDir = join(tmp, 'lib', 'modules', release);
    const order = moduleLoadOrder(readFileSync(join(modDir, 'modules.dep'), 'utf8'),
      existsSync(join(modDir, 'modules.builtin')) ? readFileSync(join(modDir, 'modules.builtin'), 'utf8') : '', NIC_MODULES);
    const stage = `${kitDir}.tmp`;
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(join(stage, 'modules'), { recursive: true });
    copyFileSync(vmlinuz, join(stage, 'vmlinuz'));
    const modules: string[] = [];
    for (const rel of order.load) {
      const name = basename(rel).replace(/\.ko(\.(xz|zst|gz))?$/, '.ko');
      writeFileSync(join(stage, 'modules', name), decompressModule(join(modDir, rel)));
      modules.push(name);
    }
    writeFileSync(join(stage, 'kit.json'), JSON.stringify({ release, modules, notes: order.notes }, null, 2) + '\n');
    rmSync(kitDir, { recursive: true, force: true });
    renameSync(stage, kitDir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function decompressModule(file: string): Buffer {
  if (file.endsWith('.gz')) return gunzipSync(readFileSync(file));
  if (file.endsWith('.xz')) return execFileSync('xz', ['-dc', file], { maxBuffer: 64 << 20 });
  if (file.endsWith('.zst')) return execFileSync('zstd', ['-dcq', file], { maxBuffer: 64 << 20 });
  return readFileSync(file);
}

const modName = (path: string) => basename(path).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');

/** Load order for `wanted` from modules.dep text: each module after its dependencies, each
 *  once. A wanted module that is built in needs no loading; one the kernel lacks is an error
 *  unless optional. Returns paths relative to the modules directory. */
export function moduleLoadOrder(modulesDep: string, modulesBuiltin: string, wanted: string[]): { load: string[]; notes: string[] } {
  const deps = new Map<string, string[]>();
  const pathOf = new Map<string, string>();
  for (const line of modulesDep.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    pathOf.set(modName(path), path);
    deps.set(path, line.slice(colon + 1).trim().split(/\s+/).filter(Boolean));
  }
  const builtin = new Set(modulesBuiltin.split('\n').filter(Boolean).map(modName));
  const load: string[] = [];
  const notes: string[] = [];
  const visiting = new Set<string>();
  const visit = (path: string) => {
    if (load.includes(path)) return;
    if (visiting.has(path)) throw new Error(`modules.dep: dependency cycle through ${path}`);
    visiting.add(path);
    // modules.dep lists a module's dependencies so that the last must be loaded first.
    for (const d of [...(deps.get(path) ?? [])].reverse()) visit(d);
    visiting.delete(path);
    load.push(path);
  };
  for (const w of wanted) {
    const key = w.replace(/-/g, '_');
    const path = pathOf.get(key);
    if (path) visit(path);
    else if (builtin.has(key)) notes.push(`${w}: built into the kernel`);
    else if (OPTIONAL_MODULES.has(w)) notes.push(`${w}: not in this kernel (skipped)`);
    else throw new Error(`the kernel has no module ${w} (not in modules.dep or modules.builtin)`);
  }
  return { load, notes };
}
