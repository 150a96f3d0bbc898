// Running a guest image under QEMU: the kernel command line, the qemu-system-x86_64 argument
// list (KVM when /dev/kvm works, else TCG; -no-reboot; NICs without option ROMs, in vm.json's
// order at fixed PCI slots), and the host TAP devices that back the NICs.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { VmConfig } from './vmjson.js';

export const QEMU = 'qemu-system-x86_64';
/** The first NIC's PCI slot; NIC i sits at slot FIRST_NIC_SLOT + i, so PCI order is vm.json order. */
const FIRST_NIC_SLOT = 3;

/** The guest kernel's command line: console on the first serial port, quiet, no IPv6 on the
 *  router's NICs, power off (not reboot) on panic; NACL_WARMUP and NO_COLOR reach /init. */
export function kernelCmdline(opts: { warmup: boolean; color?: boolean }): string {
  const words = ['console=ttyS0,115200', 'quiet', 'panic=-1', 'ipv6.disable=1', `NACL_WARMUP=${opts.warmup ? 1 : 0}`];
  if (opts.color === false) words.push('NO_COLOR=1');
  return words.join(' ');
}

/** True when KVM can be used (the device exists and opens read-write). */
export function kvmUsable(): boolean {
  try {
    closeSync(openSync('/dev/kvm', 'r+'));
    return true;
  } catch {
    return false;
  }
}

export type BootMedia = { kind: 'kernel'; kernel: string; initrd: string; cmdline: string } | { kind: 'disk'; file: string; format: string };

export function qemuArgs(vm: VmConfig, media: BootMedia, kvm: boolean): string[] {
  const args = [
    '-nodefaults', '-no-user-config', '-no-reboot',
    '-machine', `pc,accel=${kvm ? 'kvm' : 'tcg'}`,
    // TCG's default CPU model lacks instructions node's code generator expects; 'max' has all
    // that TCG emulates.
    '-cpu', kvm ? 'host' : 'max',
    '-smp', String(vm.cpus), '-m', String(vm.memory),
    '-display', 'none', '-serial', 'stdio', '-monitor', 'none',
  ];
  if (media.kind === 'kernel') args.push('-kernel', media.kernel, '-initrd', media.initrd, '-append', media.cmdline);
  // A comma in a QEMU option value is written as two.
  else args.push('-drive', `file=${media.file.replace(/,/g, ',,')},format=${media.format},if=virtio,readonly=on`);
  vm.net.forEach((nic, i) => {
    args.push('-netdev', `tap,id=net${i},ifname=${nic.tap},script=no,downscript=no`);
    const model = nic.device === 'virtio' ? 'virtio-net-pci' : 'vmxnet3';
    args.push('-device', `${model},netdev=net${i},mac=${nic.mac},addr=${(FIRST_NIC_SLOT + i).toString(16)},romfile=`);
  });
  return args;
}

function ip(args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`ip ${args.join(' ')}: ${(e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message}`);
  }
}

export function linkExists(name: string): boolean {
  return existsSync(join('/sys/class/net', name));
}

/** Creates the persistent TAP devices vm.json names (up, no addresses) and returns the ones it
 *  created; devices that exist already are used as they are and left in place afterwards. */
export function createTaps(vm: VmConfig): string[] {
  const created: string[] = [];
  try {
    for (const nic of vm.net) {
      if (linkExists(nic.tap)) continue;
      ip(['tuntap', 'add', 'dev', nic.tap, 'mode', 'tap']);
      created.push(nic.tap);
      ip(['link', 'set', nic.tap, 'up']);
    }
  } catch (e) {
    removeTaps(created);
    throw e;
  }
  return created;
}

/** Deletes TAP devices (those moved to another namespace are not here any more: skipped). */
export function removeTaps(names: string[]): void {
  for (const n of names) {
    if (!linkExists(n)) continue;
    try {
      ip(['link', 'del', n]);
    } catch {
      // gone meanwhile
    }
  }
}

/** True once a process has the (up) TAP device open: its carrier is on (LOWER_UP). */
export function tapAttached(name: string, netns?: string): boolean {
  try {
    const out = execFileSync('ip', [...(netns ? ['-n', netns] : []), '-o', 'link', 'show', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return /[<,]LOWER_UP[,>]/.test(out);
  } catch {
    return false;
  }
}
