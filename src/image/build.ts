// Building an image directory: DIR/vmlinuz, DIR/initrd.img, DIR/vm.json (kept when present),
// DIR/image.json (what went in: kernel package and version, node, flags, hashes, sizes) and,
// with a disk format, DIR/disk.{img,qcow2,vmdk}. image.json is how `boot` tells whether the
// image is current.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import type { Model } from '../config/model.js';
import { formatDiagnostics, loadConfig } from '../config/index.js';
import { linkKeys } from '../router.js';
import { nodeFlags as routerNodeFlags } from '../node-flags.js';
import { VERSION } from '../version.js';
import { packageRoot } from '../../drivers/native.js';
import { kernelKit, PINNED_KERNEL } from './kernel.js';
import { bundleDigest, bundleRouter, sha256, writeInitramfs } from './initramfs.js';
import { diskFile, writeDisk, type DiskFormat } from './disk.js';
import { kernelCmdline } from './qemu.js';
import { defaultMac, defaultTap, defaultVmConfig, formatVmConfig, parseVmConfig, type VmConfig } from './vmjson.js';

export const KERNEL_FILE = 'vmlinuz';
export const INITRD_FILE = 'initrd.img';
export const MANIFEST_FILE = 'image.json';
export const VM_FILE = 'vm.json';
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'];

export interface Manifest {
  naclRouter: string;
  built: string;
  buildSeconds: number;
  config: { path: string; sha256: string };
  kernel: { package: string; version: string; release: string; pinned: boolean; requested: string | null; modules: string[]; notes: string[] };
  node: { version: string; flags: string[] };
  bundleSha256: string;
  initrd: { compression: 'zstd'; bytes: number; contents: number };
  disk: { file: string; format: DiskFormat; bytes: number; warmup: boolean } | null;
  bytes: { kernel: number; initrd: number; total: number };
}

export class ImageError extends Error {}

/** Reads and checks a NaCl file; throws ImageError carrying the located diagnostics (an
 *  unreadable file is a plain Error: an I/O error, not an invalid configuration). */
export function checkConfig(path: string): { model: Model; warnings: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const { model, diagnostics } = loadConfig(text, path);
  const rendered = formatDiagnostics(diagnostics, text);
  if (!model) throw new ImageError(rendered.trimEnd());
  return { model, warnings: rendered };
}

/** The NICs a configuration needs: Iface index N is the N-th NIC; an Iface indexed by MAC
 *  needs a NIC with that MAC. */
function nicNeeds(model: Model): { count: number; macs: string[] } {
  const keys = linkKeys(model);
  const nums = keys.filter((k) => /^\d+$/.test(k)).map(Number);
  return { count: nums.length ? Math.max(...nums) + 1 : 0, macs: keys.filter((k) => !/^\d+$/.test(k)) };
}

/** The default vm.json for a configuration. */
export function vmForModel(model: Model, config?: string): VmConfig {
  const need = nicNeeds(model);
  const vm = defaultVmConfig(need.count, config);
  for (const mac of need.macs) vm.net.push({ device: 'virtio', mac, tap: defaultTap(vm.net.length) });
  if (vm.net.length === 0) vm.net.push({ device: 'virtio', mac: defaultMac(0), tap: defaultTap(0) });
  return vm;
}

/** Reads DIR/vm.json (located errors as ImageError) or returns null when there is none. */
export function readVmConfig(dir: string, nics = 0): VmConfig | null {
  const file = join(dir, VM_FILE);
  if (!existsSync(file)) return null;
  const text = readFileSync(file, 'utf8');
  const { vm, diagnostics } = parseVmConfig(text, file, nics);
  if (!vm) throw new ImageError(formatDiagnostics(diagnostics, text).trimEnd());
  return vm;
}

/** Errors when vm.json's NICs do not cover the configuration's links. */
export function checkNics(vm: VmConfig, model: Model, vmFile: string): void {
  const need = nicNeeds(model);
  const problems: string[] = [];
  if (need.count > vm.net.length) problems.push(`the configuration uses Iface index ${need.count - 1} but vm.json has ${vm.net.length} NIC${vm.net.length === 1 ? '' : 's'}`);
  for (const mac of need.macs) if (!vm.net.some((n) => n.mac === mac)) problems.push(`the configuration has an Iface indexed by MAC ${mac} but no NIC in vm.json has that MAC`);
  if (problems.length) throw new ImageError(problems.map((p) => `${vmFile}: error: ${p}`).join('\n'));
}

/** The NaCl file a vm.json's "config" names, resolved against the vm.json's directory. */
export function configOf(dir: string, vm: VmConfig): string | null {
  return vm.config === undefined ? null : isAbsolute(vm.config) ? vm.config : resolve(dir, vm.config);
}

export function readManifest(dir: string): Manifest | null {
  try {
    return JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as Manifest;
  } catch {
    return null;
  }
}

function findBusybox(): string {
  const bb = BUSYBOX.find((p) => existsSync(p));
  if (!bb) throw new ImageError('busybox not found (install busybox-static: sh scripts/deps.sh)');
  return bb;
}

/** Why DIR's image must be (re)built for this configuration and vm.json, or null when it is
 *  current. The bundle is compared too, so a changed router is rebuilt into the image. */
export async function staleReason(dir: string, vm: VmConfig, config: string, disk: boolean): Promise<string | null> {
  const m = readManifest(dir);
  if (!m) return 'no image built yet';
  for (const f of [KERNEL_FILE, INITRD_FILE]) if (!existsSync(join(dir, f))) return `${f} is missing`;
  if (resolve(m.config.path) !== resolve(config)) return `the configuration is now ${config}`;
  if (!existsSync(config)) return null; // nothing to rebuild from: boot what is there
  if (sha256(readFileSync(config)) !== m.config.sha256) return `${basename(config)} changed`;
  if (m.naclRouter !== VERSION) return `nacl-router ${VERSION} (image has ${m.naclRouter})`;
  if ((vm.kernel ?? null) !== m.kernel.requested) return 'vm.json names another kernel';
  if (JSON.stringify([...routerNodeFlags(), ...(vm.nodeFlags ?? [])]) !== JSON.stringify(m.node.flags)) return 'other node flags';
  if (disk) {
    if (!m.disk || !existsSync(join(dir, m.disk.file))) return 'no disk image yet';
    if (m.disk.warmup !== vm.warmup) return 'vm.json changed "warmup" (the disk carries its own command line)';
  }
  try {
    if (bundleDigest(await bundleRouter(packageRoot())) !== m.bundleSha256) return 'the router changed';
  } catch {
    // no esbuild (an installed package without devDependencies): keep the image
  }
  return null;
}

export interface BuildOptions {
  config: string;
  dir: string;
  vm: VmConfig;
  disk: DiskFormat | null;
  log?: (msg: string) => void;
}

/** Builds the image into opts.dir (files are written beside and renamed into place). */
export async function buildImage(opts: BuildOptions): Promise<Manifest> {
  const log = opts.log ?? (() => {});
  const t0 = performance.now();
  const { dir, vm } = opts;
  mkdirSync(dir, { recursive: true });
  const root = packageRoot();
  const kit = kernelKit(vm.kernel, log);
  for (const n of kit.notes) log(`kernel: ${n}`);
  log(`kernel ${kit.package} ${kit.version}${kit.pinned ? '' : ' (NOT the pinned version)'}; modules ${kit.modules.map((m) => basename(m, '.ko')).join(' ')}`);
  const bundle = await bundleRouter(root);
  log(`router bundled (${(bundle.router.length / 1024).toFixed(0)} KiB, build worker ${(bundle.worker.length / 1024).toFixed(0)} KiB)`);
  const nodeFlags = [...routerNodeFlags(), ...(vm.nodeFlags ?? [])];
  const tmpInitrd = join(dir, `.${INITRD_FILE}.tmp`);
  const { files } = await writeInitramfs({ root, node: process.execPath, busybox: findBusybox(), modules: kit.modules, config: opts.config, bundle, nodeFlags }, tmpInitrd);
  renameSync(tmpInitrd, join(dir, INITRD_FILE));
  writeFileSync(join(dir, KERNEL_FILE), readFileSync(kit.vmlinuz));
  const kernelBytes = statSync(join(dir, KERNEL_FILE)).size;
  const initrdBytes = statSync(join(dir, INITRD_FILE)).size;
  log(`initramfs ${mb(initrdBytes)} (zstd; ${mb(Object.values(files).reduce((a, b) => a + b, 0))} unpacked), kernel ${mb(kernelBytes)}`);

  let disk: Manifest['disk'] = null;
  for (const f of readdirSync(dir)) if (/^disk\.(img|qcow2|vmdk)$/.test(f)) rmSync(join(dir, f));
  if (opts.disk) {
    const file = diskFile(opts.disk);
    const tmp = join(dir, `.${file}.tmp`);
    writeDisk({ kernel: join(dir, KERNEL_FILE), initrd: join(dir, INITRD_FILE), cmdline: kernelCmdline({ warmup: vm.warmup, color: false }), out: tmp, format: opts.disk });
    renameSync(tmp, join(dir, file));
    disk = { file, format: opts.disk, bytes: statSync(join(dir, file)).size, warmup: vm.warmup };
    log(`disk ${file} ${mb(disk.bytes)} (one FAT partition, syslinux)`);
  }
  const manifest: Manifest = {
    naclRouter: VERSION,
    built: new Date().toISOString(),
    buildSeconds: Math.round((performance.now() - t0) / 100) / 10,
    config: { path: resolve(opts.config), sha256: sha256(readFileSync(opts.config)) },
    kernel: { package: kit.package, version: kit.version, release: kit.release, pinned: kit.pinned, requested: vm.kernel ?? null, modules: kit.modules.map((m) => basename(m)), notes: kit.notes },
    node: { version: process.version, flags: nodeFlags },
    bundleSha256: bundleDigest(bundle),
    initrd: { compression: 'zstd', bytes: initrdBytes, contents: Object.values(files).reduce((a, b) => a + b, 0) },
    disk,
    bytes: { kernel: kernelBytes, initrd: initrdBytes, total: kernelBytes + initrdBytes },
  };
  writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** vm.json for `image FILE -o DIR`: the one in DIR when present (checked against the
 *  configuration), else a default one written there that points back at FILE. */
export function vmForImage(dir: string, model: Model, config: string): VmConfig {
  const existing = readVmConfig(dir, nicNeeds(model).count);
  if (existing) {
    checkNics(existing, model, join(dir, VM_FILE));
    return existing;
  }
  mkdirSync(dir, { recursive: true });
  // "config" relative to DIR when that stays short, so the two can move together.
  const rel = relative(resolve(dir), resolve(config));
  const vm = vmForModel(model, rel.startsWith(join('..', '..')) ? resolve(config) : rel);
  writeFileSync(join(dir, VM_FILE), formatVmConfig(vm));
  return vm;
}

export { PINNED_KERNEL };
