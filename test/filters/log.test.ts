import t from 'tap';
import { RuleLogger, unescapeLogText } from '../../filters/log.js';
import { buildPacket } from '../../src/control/packet-spec.js';
import { fld, ip, str } from './model-builder.js';

const p = buildPacket({
  proto: 17, saddr: ip('192.0.2.1'), daddr: ip('198.51.100.255'), sport: 1234, dport: 53, inIface: null,
  tcpFlags: 0, ctState: 0, ttl: 9, len: null, icmpType: 0, icmpCode: 0, id: 1, dscp: 0, ecn: 0, fragOff: 0,
  seq: 0, ackSeq: 0, window: 0,
});

function setup(rate = 2, burst = 3): { out: string[]; lg: RuleLogger; clock: { now: number } } {
  const out: string[] = [];
  const clock = { now: 0 };
  const lg = new RuleLogger({ emit: (k, s, m, id) => { out.push(`${k}/${s}/${id}: ${m}`); } }, 4, { rate, burst, now: () => clock.now });
  return { out, lg, clock };
}

t.test('formatting: addresses dotted, numbers decimal, strings verbatim, \\n', (t) => {
  const { out, lg } = setup();
  lg.prepare(1, 'log', 6, [str('from '), fld('ip.saddr'), str(' to '), fld('ip.daddr'), str(':'), fld('udp.dport'), str(' ttl '), fld('ip.ttl'), str('\\n')]);
  lg.prepare(2, 'syslog', 4, [str('a\\nb'), str('\n')]);
  lg.emit(1, p);
  lg.emit(2, p);
  t.same(out, ['log/6/1: from 192.0.2.1 to 198.51.100.255:53 ttl 9', 'syslog/4/2: a\nb']);
  t.equal(unescapeLogText('x\\ty\\\\z\\"'), 'x\ty\\z"');
  t.end();
});

t.test('per-rule token bucket with a suppressed summary', (t) => {
  const { out, lg, clock } = setup(2, 3);
  lg.prepare(0, 'log', 6, [str('zero')]);
  lg.prepare(1, 'log', 6, [str('one')]);
  for (let i = 0; i < 10; i++) lg.emit(0, p);
  lg.emit(1, p);
  t.same(out, ['log/6/0: zero', 'log/6/0: zero', 'log/6/0: zero', 'log/6/1: one'], 'burst of 3, other rule unaffected');
  t.equal(lg.pending(0), 7);
  out.length = 0;
  clock.now = 400; // 0.8 token
  lg.emit(0, p);
  t.same(out, [], 'still empty');
  clock.now = 1000; // refilled
  lg.emit(0, p);
  t.same(out, ['log/6/0: 8 messages suppressed', 'log/6/0: zero']);
  t.equal(lg.pending(0), 0);
  out.length = 0;
  for (let i = 0; i < 5; i++) lg.emit(0, p);
  clock.now = 5000;
  lg.flush();
  t.same(out, ['log/6/0: zero', 'log/6/0: 4 messages suppressed'], 'flush sends the summary once refilled');
  t.end();
});

t.test('a suppressed message is not formatted', (t) => {
  const { lg } = setup(1, 1);
  let reads = 0;
  const counting = new Proxy(p, { get: (o, k) => { if (k === 'saddr') reads++; return Reflect.get(o, k); } });
  lg.prepare(0, 'log', 6, [fld('ip.saddr')]);
  lg.emit(0, counting);
  lg.emit(0, counting);
  lg.emit(0, counting);
  t.equal(reads, 1, 'fields read only for the message that went out');
  t.end();
});
