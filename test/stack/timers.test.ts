import t from 'tap';
import { TimerWheel } from '../../stack/timers.js';

t.test('fires after the deadline, never before; rescheduling from a handler works', async (t) => {
  const w = new TimerWheel(100, 8, 16);
  const fired: string[] = [];
  const k = w.register((a, b, now) => {
    fired.push(`${a}:${b}@${now}`);
    if (a === 2 && b < 3) w.schedule(k, 2, b + 1, now + 250);
  });
  w.tick(1000);
  w.schedule(k, 1, 0, 1050);
  w.schedule(k, 2, 0, 1120);
  w.schedule(k, 3, 0, 1000 + 5000);
  w.tick(1040);
  t.same(fired, []);
  w.tick(1060);
  t.same(fired, [], 'within the same slot, before ceil: not yet');
  w.tick(1100);
  t.same(fired, ['1:0@1100']);
  for (let now = 1100; now <= 2200; now += 30) w.tick(now);
  t.same(fired.slice(1).map((s) => s.split('@')[0]), ['2:0', '2:1', '2:2', '2:3']);
  for (const s of fired) { const [id, at] = s.split('@'); void id; t.ok(Number(at) >= 1050); }
  t.equal(w.active, 1, 'the far timer is still armed (more than one wheel round ahead)');
  w.tick(9000);
  t.equal(fired[fired.length - 1].split('@')[0], '3:0', 'fired after a long pause');
  t.equal(w.active, 0);
});

t.test('cancel and capacity', async (t) => {
  const w = new TimerWheel(100, 8, 2);
  let n = 0;
  const k = w.register(() => { n++; });
  const a = w.schedule(k, 0, 0, 100);
  w.schedule(k, 0, 0, 100);
  t.equal(w.schedule(k, 0, 0, 100), -1, 'full');
  t.equal(w.full, 1);
  w.cancel(a);
  w.tick(1000);
  t.equal(n, 1);
  t.ok(w.schedule(k, 0, 0, 1100) >= 0, 'nodes reclaimed');
});
