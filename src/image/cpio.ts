// A writer for the cpio "newc" format the kernel unpacks an initramfs from. Every entry is
// owned by root with a fixed timestamp, so an image needs no privileges to build (device nodes
// included) and the same inputs give the same archive.
// Entry: "070701", then 13 eight-digit hex fields (ino, mode, uid, gid, nlink, mtime, filesize,
// devmajor, devminor, rdevmajor, rdevminor, namesize, check), the NUL-terminated name padded to
// 4 bytes, the data padded to 4 bytes. The archive ends with the entry "TRAILER!!!".

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

export interface CpioEntry {
  /** Path inside the archive, without a leading slash. */
  name: string;
  /** File type and permission bits (S_IF* | 0oPERM). */
  mode: number;
  /** File contents, or the target of a symlink. */
  data?: Uint8Array | string;
  /** Device number for character devices. */
  rdev?: { major: number; minor: number };
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;

function header(ino: number, e: CpioEntry, size: number, nameLen: number): string {
  const fields = [ino, e.mode, 0, 0, (e.mode & 0o170000) === S_IFDIR ? 2 : 1, 0, size, 0, 0, e.rdev?.major ?? 0, e.rdev?.minor ?? 0, nameLen, 0];
  return '070701' + fields.map((f) => (f >>> 0).toString(16).padStart(8, '0')).join('');
}

/** The archive as a list of buffers (the large files are not copied). */
export function cpioChunks(entries: CpioEntry[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let ino = 1;
  const add = (e: CpioEntry) => {
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : e.data ?? new Uint8Array(0);
    const name = Buffer.from(e.name + '\0');
    const head = Buffer.from(header(e.name === 'TRAILER!!!' ? 0 : ino++, e, data.length, name.length));
    out.push(head, name, Buffer.alloc(pad4(head.length + name.length)));
    if (data.length) out.push(data, Buffer.alloc(pad4(data.length)));
  };
  for (const e of entries) {
    if (e.name.startsWith('/') || e.name.split('/').includes('..')) throw new Error(`cpio: bad entry name ${e.name}`);
    add(e);
  }
  add({ name: 'TRAILER!!!', mode: 0 });
  return out;
}
