import t from 'tap';
import { emitUdp, UdpView } from '../../../stack/wire/udp.js';
import { OK, UDP_BAD_LENGTH, UDP_TRUNCATED } from '../../../stack/wire/reason.js';
import { UDP_OPT } from './fixtures.js';

const L4 = 14 + 24;
const S = 0x0a000001, D = 0x0a000002;

t.test('reads every field', async (t) => {
  const u = new UdpView().reset(UDP_OPT, L4, UDP_OPT.length - L4);
  t.equal(u.check(), OK);
  t.equal(u.sport, 5353); t.equal(u.dport, 53); t.equal(u.length, 13); t.equal(u.csum, 0x92e1);
  t.equal(u.payloadLen, 5);
  t.equal(Buffer.from(UDP_OPT.subarray(u.payloadOff, u.payloadOff + 5)).toString(), 'hello');
  t.ok(u.checksumOk(S, D));
  t.notOk(u.checksumOk(S, D + 1), 'pseudo-header is covered');
});

t.test('emit matches the fixture; zero checksum means none', async (t) => {
  const b = new Uint8Array(13);
  b.set(Buffer.from('hello'), 8);
  t.equal(emitUdp(b, 0, S, D, 5353, 53, 5), 13);
  t.same(Array.from(b), Array.from(UDP_OPT.subarray(L4)));
  b[6] = 0; b[7] = 0;
  t.ok(new UdpView().reset(b, 0, 13).checksumOk(1, 2));
});

t.test('malformed and truncated', async (t) => {
  t.equal(new UdpView().reset(UDP_OPT, L4, 7).check(), UDP_TRUNCATED);
  const b = UDP_OPT.slice(L4);
  b[5] = 14;
  t.equal(new UdpView().reset(b, 0, 13).check(), UDP_BAD_LENGTH, 'length beyond the datagram');
  b[5] = 7;
  t.equal(new UdpView().reset(b, 0, 13).check(), UDP_BAD_LENGTH, 'length below the header');
  b[5] = 13; b[9] ^= 1;
  t.notOk(new UdpView().reset(b, 0, 13).checksumOk(S, D), 'corrupted payload');
});
