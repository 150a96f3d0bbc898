// `nacl-router boot DIR [--disk]`: (re)builds DIR's image when needed, creates the TAP devices
// vm.json names, runs the guest under QEMU with its serial console (the kernel's messages and
// the router's log) on stdout, and on Ctrl-C (SIGINT) or SIGTERM stops the guest and removes
// the TAP devices it created.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../cli.js';
import {
  buildImage, checkConfig, checkNics, configOf, ImageError, INITRD_FILE, KERNEL_FILE, readManifest, readVmConfig, staleReason, VM_FILE,
} from '../image/build.js';
import { createTaps, kernelCmdline, kvmUsable, QEMU, qemuArgs, removeTaps, tapAttached, type BootMedia } from '../image/qemu.js';

/** How long a stopping guest may take to power off before QEMU is terminated. */
const STOP_GRACE_MS = 10000;

const HELP = `usage: nacl-router boot DIR [--disk] [--rebuild]

Boots the guest image in DIR under ${QEMU} (KVM when /dev/kvm is usable, else
TCG emulation). DIR holds a vm.json (see vm.json.example); when its image is missing or out
of date (the NaCl file vm.json's "config" names changed, or the router did) it is built
first, as \`nacl-router image\` does.

For each NIC in vm.json a persistent TAP device of the given name is created (an existing
one is used as it is) and brought up without addresses: move it into a namespace or a bridge
once the guest has it open (its carrier comes up). The serial console, with the router's log,
is printed here. Ctrl-C stops the router in the guest (it prints its counters), powers the
guest off and deletes the TAP devices boot created. When the router inside exits, the guest
powers off and boot exits with the router's status.

options:
  --disk       boot the disk image (disk.img/.qcow2/.vmdk, built with --disk if missing)
               instead of the kernel and initramfs
  --rebuild    build the image even when it is up to date
  -h, --help   this text

Needs root (TAP devices).`;

export const command: Command = {
  summary: 'boot a guest image directory under QEMU (builds it if needed)',
  help: HELP,
  async run(args) {
    let parsed;
    try {
      parsed = parseArgs({ args, allowPositionals: true, options: { disk: { type: 'boolean' }, rebuild: { type: 'boolean' } } });
    } catch (e) {
      process.stderr.write(`nacl-router boot: ${(e as Error).message}\n`);
      return 2;
    }
    if (parsed.positionals.length !== 1) {
      process.stderr.write('usage: nacl-router boot DIR [--disk] [--rebuild]   (nacl-router boot --help)\n');
      return 2;
    }
    const dir = resolve(parsed.positionals[0]);
    const useDisk = parsed.values.disk ?? false;
    const say = (msg: string) => process.stderr.write(`boot: ${msg}\n`);
    let vm;
    let media: BootMedia;
    try {
      vm = readVmConfig(dir);
      if (!vm) throw new ImageError(`${join(dir, VM_FILE)}: no such file (write one, see vm.json.example, or run nacl-router image FILE -o ${parsed.positionals[0]})`);
      let manifest = readManifest(dir);
      const config = configOf(dir, vm) ?? manifest?.config.path ?? null;
      if (!config) throw new ImageError(`${join(dir, VM_FILE)}: error: no "config": name the NaCl file to build the image from`);
      if (existsSync(config) || !manifest) checkNics(vm, checkConfig(config).model, join(dir, VM_FILE));
      const reason = parsed.values.rebuild ? 'asked to rebuild' : await staleReason(dir, vm, config, useDisk);
      if (reason) {
        say(`building the image (${reason})`);
        const { warnings } = checkConfig(config);
        if (warnings) process.stderr.write(warnings);
        const format = manifest?.disk?.format ?? (useDisk ? 'raw' : null);
        manifest = await buildImage({ config, dir, vm, disk: format, log: say });
      }
      if (useDisk) {
        const d = manifest!.disk!;
        media = { kind: 'disk', file: join(dir, d.file), format: d.format };
      } else {
        media = { kind: 'kernel', kernel: join(dir, KERNEL_FILE), initrd: join(dir, INITRD_FILE), cmdline: kernelCmdline({ warmup: vm.warmup, color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR }) };
      }
    } catch (e) {
      const invalid = e instanceof ImageError;
      process.stderr.write(invalid ? `${e.message}\n` : `nacl-router boot: ${(e as Error).message}\n`);
      return invalid ? 1 : 2;
    }
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      process.stderr.write('nacl-router boot: must run as root (it creates TAP devices); try sudo\n');
      return 2;
    }
    let created: string[];
    try {
      created = createTaps(vm);
    } catch (e) {
      process.stderr.write(`nacl-router boot: ${(e as Error).message}\n`);
      return 2;
    }
    const kvm = kvmUsable();
    say(`${QEMU} (${kvm ? 'KVM' : 'TCG, no usable /dev/kvm'}), ${vm.cpus} CPU, ${vm.memory} MiB, ${media.kind === 'disk' ? media.file : 'kernel + initramfs'}; NICs: ${vm.net.map((n, i) => `${i}=${n.tap} (${n.device} ${n.mac})`).join(', ')}`);
    return new Promise<number>((done) => {
      // Its own process group: Ctrl-C reaches boot, which stops the guest and cleans up.
      const q = spawn(QEMU, qemuArgs(vm, media, kvm), { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
      q.stdin.on('error', () => { /* QEMU gone */ });
      let routerStatus: number | null = null;
      let stopping = false;
      let tail = '';
      q.stdout.on('data', (d: Buffer) => {
        process.stdout.write(d);
        tail = (tail + d.toString('latin1')).slice(-512);
        const m = /init: nacl-router exited with status (\d+)/.exec(tail);
        if (m) routerStatus = Number(m[1]);
      });
      const attached = setInterval(() => {
        if (vm.net.every((n) => tapAttached(n.tap))) {
          clearInterval(attached);
          say(`NICs attached: ${vm.net.map((n) => n.tap).join(', ')}`);
        }
      }, 50);
      const stop = (sig: string) => {
        if (stopping) return;
        stopping = true;
        // "poweroff" on the console: the router stops (printing its counters) and the guest
        // powers off; QEMU is terminated if that takes too long.
        say(`${sig}: stopping the guest`);
        q.stdin.write('poweroff\n');
        setTimeout(() => q.kill('SIGTERM'), STOP_GRACE_MS).unref();
        setTimeout(() => q.kill('SIGKILL'), STOP_GRACE_MS + 5000).unref();
      };
      const onInt = () => stop('SIGINT');
      const onTerm = () => stop('SIGTERM');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
      const finish = (code: number) => {
        clearInterval(attached);
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
        removeTaps(created);
        done(code);
      };
      q.on('error', (e) => {
        process.stderr.write(`nacl-router boot: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? `${QEMU} not found (install qemu-system-x86: sh scripts/deps.sh)` : e.message}\n`);
        finish(2);
      });
      q.on('exit', (code, signal) => {
        if (routerStatus !== null) say(`guest powered off (router exited with status ${routerStatus})`);
        else say(stopping ? 'guest terminated' : `guest stopped (qemu ${signal ?? `exit status ${code}`})`);
        finish(routerStatus ?? (stopping ? 0 : code || (signal ? 2 : 0)));
      });
    });
  },
};
