import t from 'tap';
import { emitTcp, TcpView, TCP_ACK, TCP_SYN as SYN } from '../../../stack/wire/tcp.js';
import { OK, TCP_BAD_DATA_OFFSET, TCP_TRUNCATED } from '../../../stack/wire/reason.js';
import { TCP_SYN } from './fixtures.js';

const L4 = 34;
const S = 0x0a000001, D = 0x0a000102;

t.test('reads every field', async (t) => {
  const v = new TcpView().reset(TCP_SYN, L4, TCP_SYN.length - L4);
  t.equal(v.check(), OK);
  t.equal(v.sport, 40000); t.equal(v.dport, 80);
  t.equal(v.seq, 0x01020304); t.equal(v.ack, 0);
  t.equal(v.dataOffset, 7); t.equal(v.headerLen, 28); t.equal(v.optionsLen, 8); t.equal(v.optionsOff, L4 + 20);
  t.equal(v.flags, SYN); t.ok(v.syn); t.notOk(v.ackFlag || v.fin || v.rst || v.psh || v.urg);
  t.equal(v.window, 64240); t.equal(v.csum, 0xd295); t.equal(v.urgentPtr, 0);
  t.equal(v.payloadLen, 0); t.equal(v.payloadOff, TCP_SYN.length);
  t.equal(TCP_SYN[v.optionsOff], 2, 'MSS option kind');
  t.ok(v.checksumOk(S, D));
});

t.test('emit builds a valid segment', async (t) => {
  const b = new Uint8Array(24);
  b.set([1, 2, 3, 4], 20);
  t.equal(emitTcp(b, 0, S, D, 1234, 80, 5, 6, TCP_ACK, 1000, 4), 24);
  const v = new TcpView().reset(b, 0, 24);
  t.equal(v.check(), OK); t.ok(v.checksumOk(S, D));
  t.equal(v.ack, 6); t.ok(v.ackFlag); t.equal(v.headerLen, 20); t.equal(v.payloadLen, 4);
});

t.test('malformed and truncated', async (t) => {
  t.equal(new TcpView().reset(TCP_SYN, L4, 19).check(), TCP_TRUNCATED);
  const b = TCP_SYN.slice(L4);
  b[12] = 4 << 4;
  t.equal(new TcpView().reset(b, 0, b.length).check(), TCP_BAD_DATA_OFFSET, 'offset below 5');
  b[12] = 8 << 4;
  t.equal(new TcpView().reset(b, 0, b.length).check(), TCP_BAD_DATA_OFFSET, 'options beyond the segment');
});
