// Batching and lifecycle without namespaces: an AF_PACKET socket on a TAP's kernel side
// transmits into our TAP fd and receives what the TAP writes, so both directions of both
// drivers are checked byte for byte. A child process (plain Node + the addon) checks that an
// exception in the receive callback reaches 'uncaughtException', that close inside the
// callback is safe, and that an open, started link does not keep a process from exiting
// via process.exit.

import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TapLink } from '../../drivers/tap.js';
import { PacketLink } from '../../drivers/packet.js';
import { packageRoot } from '../../drivers/native.js';
import type { FrameBatch } from '../../drivers/link.js';
import { BROADCAST_MAC, emitEthernet, ETH_HEADER_LEN, ETH_TYPE } from '../../stack/wire/ethernet.js';
import { rd16, wr16 } from '../../stack/wire/view.js';
import { VNET_HDR_LEN } from '../../stack/wire/virtio.js';
import { sh, waitFor } from '../../lab/netlab.js';

const pid = process.pid;
const ETHERTYPE_TEST = 0x88b5; // IEEE local experimental: the kernel ignores it
// The test frames' payload: seed byte, frame index (16 bits), then filler.
const SEED = ETH_HEADER_LEN;
const INDEX = SEED + 1;
const FILL = INDEX + 2;

/** A broadcast test frame header from 02:00:00:00:<seed>:01. */
function testHeader(buf: Uint8Array, o: number, seed: number): void {
  emitEthernet(buf, o, BROADCAST_MAC, 0, Uint8Array.of(0x02, 0, 0, 0, seed, 1), 0, ETHERTYPE_TEST);
}

/** Keeps the host stack out of the test traffic on a root-namespace TAP: no IPv6, no
 * forwarding of anything arriving on it. */
function isolate(dev: string): void {
  sh('sysctl', ['-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`], { allowFail: true });
  sh('sysctl', ['-qw', `net.ipv4.conf.${dev}.forwarding=0`], { allowFail: true });
}

/** Writes `n` test frames of varied length into `buf`, one per 2 KB slot after `head` bytes. */
function frames(n: number, seed: number, head: number): { buf: Uint8Array; off: Int32Array; len: Int32Array } {
  const buf = new Uint8Array(n * 2048);
  const off = new Int32Array(n);
  const len = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * 2048 + head;
    const l = 60 + ((i * 37) % 1400);
    testHeader(buf, o, seed);
    buf[o + SEED] = seed;
    wr16(buf, o + INDEX, i);
    for (let k = o + FILL; k < o + l; k++) buf[k] = (k * 7 + i) & 0xff;
    off[i] = o;
    len[i] = l;
  }
  return { buf, off, len };
}

/** A TAP device and an AF_PACKET link on its kernel side (isolated), both closed at teardown. */
function tapAndPacket(t: Test, name: string, opts: { vnetHdr: boolean; batch?: number }): { tap: TapLink; pk: PacketLink } {
  const tap = new TapLink({ name, ...opts });
  let pk: PacketLink | undefined;
  t.teardown(() => {
    pk?.close();
    tap.close();
  });
  tap.setUp(true);
  isolate(name);
  pk = new PacketLink({ name, ...opts });
  return { tap, pk };
}

/** Collects test frames of `seed` (checking their bytes) from a link's batches. */
function collector(seed: number, vnet: boolean) {
  const got = { frames: 0, bad: 0, batches: 0, maxBatch: 0, hdrNonZero: 0 };
  const onRx = (b: FrameBatch): void => {
    got.batches++;
    if (b.count > got.maxBatch) got.maxBatch = b.count;
    for (let j = 0; j < b.count; j++) {
      const o = b.off[j]!;
      const l = b.len[j]!;
      if (rd16(b.buf, o + ETH_TYPE) !== ETHERTYPE_TEST || b.buf[o + SEED] !== seed) continue;
      const i = rd16(b.buf, o + INDEX);
      let ok = l === 60 + ((i * 37) % 1400);
      for (let k = o + FILL; ok && k < o + l; k++) ok = b.buf[k] === ((k - o + (i * 2048 + 64)) * 7 + i & 0xff);
      if (vnet) for (let k = o - VNET_HDR_LEN; k < o; k++) if (b.buf[k] !== 0) got.hdrNonZero++;
      if (ok) got.frames++;
      else got.bad++;
    }
  };
  return { got, onRx };
}

for (const vnetHdr of [true, false]) {
  t.test(`batches both ways between TapLink and PacketLink (vnetHdr ${vnetHdr})`, async (t) => {
    const name = `tk${vnetHdr ? 'v' : 'p'}${pid}`;
    const { tap, pk } = tapAndPacket(t, name, { vnetHdr, batch: 32 });
    const toTap = collector(1, vnetHdr);
    const toPk = collector(2, vnetHdr);
    tap.start(toTap.onRx);
    pk.start(toPk.onRx);

    // Frames sit at i*2048 + 64, so the payload check in collector() matches head = 64.
    const N = 200;
    const f1 = frames(N, 1, 64);
    const f2 = frames(N, 2, 64);
    let sent1 = 0;
    let sent2 = 0;
    for (let i = 0; i < N; i += 50) {
      sent1 += pk.send(f1.buf, f1.off.subarray(i), f1.len.subarray(i), 50);
      sent2 += tap.send(f2.buf, f2.off.subarray(i), f2.len.subarray(i), 50);
    }
    t.equal(sent1, N, 'AF_PACKET sendmmsg wrote every frame');
    t.equal(sent2, N, 'TAP wrote every frame');
    await waitFor('all frames', () => toTap.got.frames + toTap.got.bad >= N && toPk.got.frames + toPk.got.bad >= N, 5000, 20);
    t.same({ frames: toTap.got.frames, bad: toTap.got.bad }, { frames: N, bad: 0 }, 'TAP rx intact');
    t.same({ frames: toPk.got.frames, bad: toPk.got.bad }, { frames: N, bad: 0 }, 'AF_PACKET rx intact');
    t.ok(toTap.got.maxBatch > 1 && toTap.got.maxBatch <= 32, `TAP batches of up to 32 (max ${toTap.got.maxBatch})`);
    t.ok(toPk.got.maxBatch > 1 && toPk.got.maxBatch <= 32, `AF_PACKET batches of up to 32 (max ${toPk.got.maxBatch})`);
    if (vnetHdr) {
      t.equal(toTap.got.hdrNonZero + toPk.got.hdrNonZero, 0, 'virtio headers of plain frames are zero');
    }
    t.equal(tap.stats.txPackets, N);
    t.equal(pk.stats.txPackets, N);
    t.ok(tap.stats.rxPackets >= N && pk.stats.rxPackets >= N, 'rx counters');

    const bad = new Int32Array([-5, 2048 * N - 10, 0]);
    const blen = new Int32Array([60, 60, 5]);
    t.equal(tap.send(f1.buf, bad, blen, 3), 0, 'out-of-bounds and runt frames are refused');
    t.equal(tap.stats.txDropped, 3, '... and counted as dropped');
    t.equal(pk.send(f1.buf, bad, blen, 3), 0);
    t.equal(pk.stats.txDropped, 3);
  });
}

t.test('multi-queue TAP: two links on one device', async (t) => {
  const name = `tm${pid}`;
  const q1 = new TapLink({ name, multiQueue: true });
  t.teardown(() => q1.close());
  const q2 = new TapLink({ name, multiQueue: true });
  t.teardown(() => q2.close());
  t.equal(q1.ifindex, q2.ifindex, 'same device');
});

const child = `
import { createRequire } from 'node:module';
const [addonPath, name, mode, frame] = process.argv.slice(2);
const addon = createRequire(import.meta.url)(addonPath);
const tap = addon.openTap(name, 0, new Float64Array(6));
addon.ifUp(name, true);
const pk = addon.openPacket(name, 0, new Float64Array(6));
const slab = new ArrayBuffer(8 * 2048);
const off = new Int32Array(8), len = new Int32Array(8);
process.on('uncaughtException', (e) => { console.log('uncaught ' + e.message); tap.close(); pk.close(); tap.close(); });
tap.start(slab, 2048, 64, off, len, 8, (n) => {
  if (mode === 'throw') throw new Error('boom');
  if (mode === 'close') { tap.close(); pk.close(); console.log('closed in callback'); }
  if (mode === 'exit') { console.log('exiting'); process.exit(0); }
});
const f = new Uint8Array(Buffer.from(frame, 'hex'));
pk.send(f, Int32Array.of(0), Int32Array.of(f.length), 1);
`;

t.test('callback exceptions, close in the callback, exit while running (child process)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nrt-child-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'child.mjs');
  writeFileSync(script, child);
  const addonPath = join(packageRoot(), 'drivers/native/build/Release/nacl_link.node');
  const frame = new Uint8Array(60);
  testHeader(frame, 0, 9);
  const hex = Buffer.from(frame).toString('hex');
  const runChild = (mode: string) => new Promise<{ code: number | null; out: string }>((resolve) => {
    execFile(process.execPath, [script, addonPath, `tc${mode[0]}${pid}`, mode, hex], { timeout: 10000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out: stdout + stderr });
    });
  });
  const thrown = await runChild('throw');
  t.same(thrown, { code: 0, out: 'uncaught boom\n' }, 'exception reaches uncaughtException; loop ends after close');
  const closed = await runChild('close');
  t.same(closed, { code: 0, out: 'closed in callback\n' }, 'close inside the callback');
  const exited = await runChild('exit');
  t.same(exited, { code: 0, out: 'exiting\n' }, 'process.exit with a running link');
});

t.test('send() with hostile offsets, lengths and counts: no crash, every frame accounted', async (t) => {
  const name = `tf${pid}`;
  const { tap, pk } = tapAndPacket(t, name, { vnetHdr: true });
  const { buf } = frames(16, 3, 64);
  const off = new Int32Array(16);
  const len = new Int32Array(16);
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const end = Date.now() + 1500;
  let calls = 0;
  let bad = 0;
  while (Date.now() < end) {
    for (let i = 0; i < 16; i++) {
      switch (rnd(6)) {
        case 0: off[i] = -rnd(100); break;
        case 1: off[i] = buf.length - rnd(100); break;
        case 2: off[i] = 0x7fffffff - rnd(10); break;
        default: off[i] = (rnd(16) * 2048) + 64;
      }
      len[i] = rnd(5) === 0 ? rnd(40) - 20 : 14 + rnd(1500);
    }
    const count = rnd(24) - 4;
    const want = Math.max(0, Math.min(count, 16));
    for (const link of [tap, pk]) {
      const dropped = link.stats.txDropped;
      const sent = link.stats.txPackets;
      const written = link.send(buf, off, len, count);
      if (written + (link.stats.txDropped - dropped) !== want || link.stats.txPackets - sent !== written) bad++;
    }
    calls++;
  }
  t.equal(bad, 0, `written + dropped == count in all ${calls * 2} calls`);
  t.throws(() => tap.send(new Int32Array(4) as unknown as Uint8Array, off, len, 1), TypeError);
  t.throws(() => pk.send(buf, new Uint32Array(4) as unknown as Int32Array, len, 1), TypeError);
  tap.start(() => {});
  t.throws(() => tap.start(() => {}), /already started/);
});
