// `nacl-router image FILE [-o DIR] [--disk] [--format raw|qcow2|vmdk]`: checks FILE, then
// writes a bootable guest image directory (see src/image/build.ts).
import { basename, extname } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../cli.js';
import { buildImage, checkConfig, ImageError, mb, vmForImage } from '../image/build.js';
import { DISK_FORMATS, type DiskFormat } from '../image/disk.js';

const HELP = `usage: nacl-router image FILE [-o DIR] [--disk] [--format raw|qcow2|vmdk]

Checks the NaCl file FILE (errors as in \`nacl-router check\`), then writes a guest image
directory DIR (default: FILE's name with .image, in the current directory):

  vmlinuz      Debian's cloud kernel (pinned package and version; cached between builds
               under ~/.cache/nacl-router or $NACL_ROUTER_CACHE)
  initrd.img   zstd initramfs: busybox init, the NIC modules, node and its libraries, the
               router bundled into one file with its native addon, and FILE
  vm.json      how \`nacl-router boot\` runs it: memory, CPUs, NICs (written when DIR has
               none; an existing one is checked and kept; see vm.json.example)
  image.json   what went in: kernel package and version, node version and flags, hashes

In the guest, Iface index N is the N-th NIC of vm.json (or the NIC with the Iface's MAC).

options:
  -o, --output DIR   the image directory
  --disk             also write a bootable disk image (MBR, one FAT partition, syslinux):
                     boots without -kernel, e.g. on OpenStack or VMware
  --format FORMAT    the disk's format: raw (disk.img, default), qcow2 or vmdk (implies --disk)
  -q, --quiet        print nothing but errors
  -h, --help         this text

exit status: 0 built, 1 invalid configuration or vm.json, 2 usage or build error`;

export const command: Command = {
  summary: 'build a bootable guest image (kernel + initramfs, or a disk) from a NaCl file',
  help: HELP,
  async run(args) {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        allowPositionals: true,
        options: {
          output: { type: 'string', short: 'o' },
          disk: { type: 'boolean' },
          format: { type: 'string' },
          quiet: { type: 'boolean', short: 'q' },
        },
      });
    } catch (e) {
      process.stderr.write(`nacl-router image: ${(e as Error).message}\n`);
      return 2;
    }
    const { values, positionals } = parsed;
    if (positionals.length !== 1) {
      process.stderr.write('usage: nacl-router image FILE [-o DIR] [--disk] [--format raw|qcow2|vmdk]   (nacl-router image --help)\n');
      return 2;
    }
    const format = values.format;
    if (format !== undefined && !(DISK_FORMATS as readonly string[]).includes(format)) {
      process.stderr.write(`nacl-router image: unknown disk format '${format}' (raw, qcow2 or vmdk)\n`);
      return 2;
    }
    const file = positionals[0];
    const dir = values.output ?? `${basename(file, extname(file))}.image`;
    const say = values.quiet ? () => {} : (msg: string) => process.stderr.write(`image: ${msg}\n`);
    try {
      const { model, warnings } = checkConfig(file);
      if (warnings) process.stderr.write(warnings);
      const vm = vmForImage(dir, model, file);
      const disk: DiskFormat | null = format ? (format as DiskFormat) : values.disk ? 'raw' : null;
      const m = await buildImage({ config: file, dir, vm, disk, log: say });
      say(`${dir}: ${mb(m.bytes.total)} (kernel ${mb(m.bytes.kernel)} + initramfs ${mb(m.bytes.initrd)})${m.disk ? `, ${m.disk.file} ${mb(m.disk.bytes)}` : ''}, built in ${m.buildSeconds} s`);
      return 0;
    } catch (e) {
      const invalid = e instanceof ImageError;
      process.stderr.write(invalid ? `${e.message}\n` : `nacl-router image: ${(e as Error).message}\n`);
      return invalid ? 1 : 2;
    }
  },
};
