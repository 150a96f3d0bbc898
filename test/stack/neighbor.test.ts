import t from 'tap';
import { NeighborTable, N_INCOMPLETE, N_REACHABLE, PEND_FORWARDED, PEND_LOCAL, PENDING_SLOT } from '../../stack/neighbor.js';
import { Offload } from '../../stack/wire/virtio.js';

const MAC = Uint8Array.of(2, 0, 0, 0, 0, 9);

t.test('learn, resolve, expire', async (t) => {
  const nt = new NeighborTable(16, 4);
  const i = nt.learn(0x0a000001, MAC, 0, 1000, 500);
  t.ok(i >= 0);
  t.equal(nt.resolved(0x0a000001, { now: 1200 }), i);
  t.same(Array.from(nt.mac.subarray(i * 6, i * 6 + 6)), Array.from(MAC));
  t.equal(nt.resolved(0x0a000001, { now: 1500 }), -1, 'expired');
  t.equal(nt.resolved(0x0a000002, { now: 1200 }), -1);
  const j = nt.insert(0x0a000002, 1200);
  t.equal(nt.state[j], N_INCOMPLETE);
  nt.fail(j);
  t.equal(nt.find(0x0a000002), -1, 'failed entries are gone');
});

t.test('bounded: dead slots are reused, the table never overflows', async (t) => {
  const nt = new NeighborTable(16, 4);
  let ok = 0, full = 0;
  for (let k = 0; k < 100; k++) (nt.learn(0x0a000000 + k, MAC, 0, 0, 10) >= 0 ? ok++ : full++);
  t.equal(ok, 12, '3/4 of 16 live entries'); t.equal(full, 88);
  for (let k = 0; k < 100; k++) t.ok(nt.learn(0x0b000000 + k, MAC, 0, 1000 + k * 20, 10) >= 0, 'expired entries make room');
  t.equal(nt.live(1000 + 99 * 20), 1);
  t.equal(nt.state[nt.find(0x0b000000 + 99)], N_REACHABLE);
});

t.test('pending queue: bounded, copies the datagram and its metadata', async (t) => {
  const nt = new NeighborTable(16, 2);
  const d = Uint8Array.from({ length: 100 }, (_, k) => k);
  const q = nt.freeSlot();
  nt.enqueue(q, 7, PEND_FORWARDED, d, 10, 50, new Offload().set(1, 1448, 20, 16));
  t.equal(nt.pendLen[q], 50); t.equal(nt.pendBuf[q * PENDING_SLOT], 10); t.equal(nt.pendGsoSize[q], 1448);
  t.ok(nt.hasPending(7)); t.notOk(nt.hasPending(8));
  nt.enqueue(nt.freeSlot(), 8, PEND_LOCAL, d, 0, 10, new Offload());
  t.same(nt.pendOffload(q, new Offload()), new Offload().set(1, 1448, 20, 16), 'offload state kept');
  t.equal(nt.freeSlot(), -1, 'full');
  nt.release(q);
  t.equal(nt.freeSlot(), q);
  t.equal(nt.pendCount, 1);
});
