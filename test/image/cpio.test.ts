// The initramfs archive writer: busybox's cpio (the same format the kernel unpacks) reads back
// what it wrote, device node, symlink and permissions included.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpioChunks, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG } from '../../src/image/cpio.js';

const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));

t.test('newc layout', async (t) => {
  const bytes = Buffer.concat(cpioChunks([{ name: 'a', mode: S_IFREG | 0o644, data: 'xyz' }]));
  t.equal(bytes.subarray(0, 6).toString(), '070701', 'magic');
  t.equal(bytes.length % 4, 0, 'padded to 4 bytes');
  t.match(bytes.toString('latin1'), /TRAILER!!!\0/, 'trailer');
  t.throws(() => cpioChunks([{ name: '../etc/passwd', mode: S_IFREG | 0o644 }]), /bad entry name/);
  t.throws(() => cpioChunks([{ name: '/init', mode: S_IFREG | 0o755 }]), /bad entry name/);
});

t.test('busybox cpio unpacks it', { skip: BUSYBOX ? false : 'needs busybox' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nacl-cpio-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const big = Buffer.alloc(70001, 7);
  const archive = Buffer.concat(cpioChunks([
    { name: 'bin', mode: S_IFDIR | 0o755 },
    { name: 'bin/tool', mode: S_IFREG | 0o755, data: '#!/bin/sh\necho hi\n' },
    { name: 'bin/alias', mode: S_IFLNK | 0o777, data: 'tool' },
    { name: 'etc', mode: S_IFDIR | 0o700 },
    { name: 'etc/big', mode: S_IFREG | 0o600, data: big },
    { name: 'etc/empty', mode: S_IFREG | 0o644 },
    ...(process.getuid?.() === 0 ? [{ name: 'console', mode: S_IFCHR | 0o600, rdev: { major: 5, minor: 1 } }] : []),
  ]));
  execFileSync(BUSYBOX!, ['cpio', '-i', '-d', '-m'], { cwd: dir, input: archive, stdio: ['pipe', 'ignore', 'pipe'] });
  t.equal(readFileSync(join(dir, 'bin/tool'), 'utf8'), '#!/bin/sh\necho hi\n');
  t.equal(statSync(join(dir, 'bin/tool')).mode & 0o777, 0o755);
  t.equal(readlinkSync(join(dir, 'bin/alias')), 'tool');
  t.same(readFileSync(join(dir, 'etc/big')), big, 'a file whose size is not a multiple of 4');
  t.equal(statSync(join(dir, 'etc/big')).mode & 0o777, 0o600);
  t.equal(statSync(join(dir, 'etc/empty')).size, 0);
  if (process.getuid?.() === 0) {
    const st = lstatSync(join(dir, 'console'));
    t.ok(st.isCharacterDevice(), 'character device');
    t.equal(st.rdev, (5 << 8) | 1, 'major 5 minor 1');
  }
});
