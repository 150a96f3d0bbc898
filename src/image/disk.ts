// The bootable disk image: an MBR (syslinux's boot code) and one active FAT16 partition at
// 1 MiB holding syslinux, its configuration, the kernel and the initramfs. Built without loop
// devices or privileges (mkfs.fat, mtools and syslinux work on image files), then converted
// with qemu-img when another format is asked for (qcow2 for OpenStack, vmdk for VMware).
import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type DiskFormat = 'raw' | 'qcow2' | 'vmdk';
export const DISK_FORMATS: readonly DiskFormat[] = ['raw', 'qcow2', 'vmdk'];
const MBR_CODE = ['/usr/lib/syslinux/mbr/mbr.bin', '/usr/lib/SYSLINUX/mbr.bin'];
const SECTOR = 512;
const PART_START = 2048; // sectors: 1 MiB, the usual alignment
const MiB = 1 << 20;

/** The disk's file name in the image directory. */
export function diskFile(format: DiskFormat): string {
  return format === 'raw' ? 'disk.img' : `disk.${format}`;
}

function tool(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer; message: string };
    if (err.code === 'ENOENT') throw new Error(`${cmd} not found (install it: sh scripts/deps.sh)`);
    throw new Error(`${cmd} ${args.join(' ')}: ${err.stderr?.toString().trim() || err.message}`);
  }
}

/** Writes the disk image `out` in `format`; `cmdline` is the kernel command line syslinux
 *  passes (the disk boots without QEMU's -kernel). */
export function writeDisk(opts: { kernel: string; initrd: string; cmdline: string; out: string; format: DiskFormat }): void {
  const mbrCode = MBR_CODE.find((p) => existsSync(p));
  if (!mbrCode) throw new Error(`syslinux's MBR code not found (${MBR_CODE[0]}; install syslinux-common: sh scripts/deps.sh)`);
  const work = mkdtempSync(join(dirname(opts.out), '.disk-'));
  try {
    const payload = statSync(opts.kernel).size + statSync(opts.initrd).size;
    // Room for the FAT itself, syslinux and a little slack; whole MiB.
    const partBytes = Math.ceil((payload * 1.05 + 4 * MiB) / MiB) * MiB;
    const part = join(work, 'part.img');
    writeFileSync(part, '');
    truncateSync(part, partBytes);
    tool('mkfs.fat', ['-F', '16', '-h', String(PART_START), '-n', 'NACLROUTER', part]);
    const cfg = join(work, 'syslinux.cfg');
    writeFileSync(cfg, [
      'SERIAL 0 115200',
      'PROMPT 0',
      'TIMEOUT 0',
      'DEFAULT nacl-router',
      'LABEL nacl-router',
      '  LINUX /vmlinuz',
      '  INITRD /initrd.img',
      `  APPEND ${opts.cmdline}`,
      '',
    ].join('\n'));
    tool('mcopy', ['-i', part, opts.kernel, '::/vmlinuz']);
    tool('mcopy', ['-i', part, opts.initrd, '::/initrd.img']);
    tool('mcopy', ['-i', part, cfg, '::/syslinux.cfg']);
    tool('syslinux', ['--install', part]);

    const raw = opts.format === 'raw' ? opts.out : join(work, 'disk.img');
    const fd = openSync(raw, 'w');
    try {
      writeSync(fd, mbr(readFileSync(mbrCode), partBytes / SECTOR), 0, SECTOR, 0);
      const src = openSync(part, 'r');
      try {
        const buf = Buffer.allocUnsafe(4 * MiB);
        for (let off = 0; off < partBytes; off += buf.length) {
          const n = readSync(src, buf, 0, buf.length, off);
          writeSync(fd, buf, 0, n, PART_START * SECTOR + off);
        }
      } finally {
        closeSync(src);
      }
    } finally {
      closeSync(fd);
    }
    if (opts.format !== 'raw') {
      const tmpOut = join(work, `disk.${opts.format}`);
      tool('qemu-img', ['convert', '-f', 'raw', '-O', opts.format, raw, tmpOut]);
      copyFileSync(tmpOut, opts.out);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Sector 0: boot code, a fixed disk signature, one active FAT16 (LBA) partition entry. */
function mbr(code: Buffer, sectors: number): Buffer {
  const b = Buffer.alloc(SECTOR);
  code.copy(b, 0, 0, Math.min(code.length, 440));
  b.writeUInt32LE(0x6e61636c, 440); // disk signature "lcan"
  const e = 446;
  b[e] = 0x80; // active
  // CHS of LBA 2048 with 255 heads and 63 sectors per track: cylinder 0, head 32, sector 33.
  b[e + 1] = 32; b[e + 2] = 33; b[e + 3] = 0;
  b[e + 4] = 0x0e; // FAT16, LBA addressed
  b[e + 5] = 0xfe; b[e + 6] = 0xff; b[e + 7] = 0xff; // end beyond CHS range: use LBA
  b.writeUInt32LE(PART_START, e + 8);
  b.writeUInt32LE(sectors, e + 12);
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
}
