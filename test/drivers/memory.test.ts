import t from 'tap';
import { memoryPair, MEMORY_HEADROOM, pumpAll } from '../../drivers/memory.js';
import type { FrameBatch } from '../../drivers/link.js';
import { VNET_HDR_LEN } from '../../stack/wire/virtio.js';

const MA = Uint8Array.of(2, 0, 0, 0, 0, 1), MB = Uint8Array.of(2, 0, 0, 0, 0, 2);
const frame = (n: number, len = 60): Uint8Array => new Uint8Array(len).fill(n);
const send1 = (l: { send: (b: Uint8Array, o: Int32Array, l: Int32Array, c: number) => number }, f: Uint8Array): number =>
  l.send(f, Int32Array.of(0), Int32Array.of(f.length), 1);

t.test('batches move only on pump, in order, with headroom', async (t) => {
  const [a, b] = memoryPair('a', MA, 'b', MB);
  const got: number[][] = [];
  let headroomOk = true;
  b.start((batch: FrameBatch) => {
    const row: number[] = [];
    for (let i = 0; i < batch.count; i++) {
      row.push(batch.buf[batch.off[i]]);
      if (batch.off[i] < MEMORY_HEADROOM) headroomOk = false;
    }
    got.push(row);
  });
  const slab = new Uint8Array(300);
  slab.fill(1, 0, 60); slab.fill(2, 100, 160); slab.fill(3, 200, 260);
  t.equal(a.send(slab, Int32Array.of(0, 100, 200), Int32Array.of(60, 60, 60), 3), 3);
  t.same(got, [], 'nothing delivered inside send()');
  t.equal(b.pending, 3);
  t.equal(b.pump(), 3);
  t.same(got, [[1, 2, 3]], 'one batch');
  t.ok(headroomOk);
  t.equal(a.stats.txPackets, 3); t.equal(b.stats.rxPackets, 3); t.equal(b.stats.rxBytes, 180);
  t.equal(b.pump(), 0);
});

t.test('a reply sent during onRx lands in the next round, no recursion', async (t) => {
  const [a, b] = memoryPair('a', MA, 'b', MB);
  let depth = 0, maxDepth = 0, echoes = 0;
  b.start((batch) => {
    depth++; maxDepth = Math.max(maxDepth, depth);
    b.send(batch.buf, batch.off, batch.len, batch.count);
    depth--;
  });
  a.start((batch) => {
    depth++; maxDepth = Math.max(maxDepth, depth);
    echoes += batch.count;
    if (echoes < 5) a.send(batch.buf, batch.off, batch.len, batch.count);
    depth--;
  });
  send1(a, frame(9));
  const moved = pumpAll([a, b]);
  t.equal(maxDepth, 1, 'never nested');
  t.equal(echoes, 5);
  t.equal(moved, 10);
});

t.test('bounded inbox: overflow counts as txDropped', async (t) => {
  const [a, b] = memoryPair('a', MA, 'b', MB, { queueFrames: 4 });
  b.start(() => {});
  for (let i = 0; i < 6; i++) send1(a, frame(i));
  t.equal(b.pending, 4);
  t.equal(a.stats.txDropped, 2);
  a.close();
  t.equal(send1(a, frame(1)), 0, 'closed link sends nothing');
});

t.test('virtio_net_hdr travels with the frame on vnetHdr links', async (t) => {
  const [a, b] = memoryPair('a', MA, 'b', MB, { vnetHdr: true });
  let hdr: number[] = [];
  b.start((batch) => { const o = batch.off[0]; hdr = Array.from(batch.buf.subarray(o - VNET_HDR_LEN, o)); });
  const slab = new Uint8Array(100);
  slab.set([1, 1, 54, 0, 0xa8, 5, 34, 0, 16, 0, 0, 0], 20);
  slab.fill(7, 32, 92);
  a.send(slab, Int32Array.of(32), Int32Array.of(60), 1);
  b.pump();
  t.same(hdr, [1, 1, 54, 0, 0xa8, 5, 34, 0, 16, 0, 0, 0]);
});

t.test('auto mode delivers on setImmediate', async (t) => {
  const [a, b] = memoryPair('a', MA, 'b', MB, { auto: true });
  let n = 0;
  b.start((batch) => { n += batch.count; });
  send1(a, frame(1)); send1(a, frame(2));
  t.equal(n, 0);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  t.equal(n, 2);
});
