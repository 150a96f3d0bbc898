import t from 'tap';
import { emitIcmp, IcmpView, ICMP_ECHO_REQUEST, ICMP_TIME_EXCEEDED, quoteLen } from '../../../stack/wire/icmp.js';
import { formatIpv4, Ipv4View } from '../../../stack/wire/ipv4.js';
import { ICMP_TRUNCATED, OK } from '../../../stack/wire/reason.js';
import { writeIcmpError, writeEchoReply } from '../../../stack/icmp.js';
import { ECHO, TCP_SYN, TIME_EXCEEDED } from './fixtures.js';

t.test('echo request: every field', async (t) => {
  const m = new IcmpView().reset(ECHO, 34, ECHO.length - 34);
  t.equal(m.check(), OK);
  t.ok(m.checksumOk());
  t.equal(m.type, ICMP_ECHO_REQUEST); t.equal(m.code, 0); t.equal(m.csum, 0x5435);
  t.equal(m.id, 0x1234); t.equal(m.seq, 1);
  t.ok(m.isEcho); t.notOk(m.isError);
  t.equal(m.dataLen, 8);
  t.equal(Buffer.from(ECHO.subarray(m.dataOff, m.dataOff + m.dataLen)).toString(), 'abcdefgh');
});

t.test('time exceeded: the quoted header', async (t) => {
  const m = new IcmpView().reset(TIME_EXCEEDED, 34, TIME_EXCEEDED.length - 34);
  t.equal(m.check(), OK); t.ok(m.checksumOk());
  t.equal(m.type, ICMP_TIME_EXCEEDED); t.equal(m.code, 0); t.ok(m.isError);
  const q = new Ipv4View().reset(TIME_EXCEEDED, m.quotedOff, m.quotedLen);
  t.equal(q.check(true), IP_BAD_TOTAL_LENGTH_EXPECTED, 'the quote is cut, so total length exceeds it');
  t.equal(formatIpv4(q.saddr), '10.0.0.1'); t.equal(formatIpv4(q.daddr), '10.0.1.2');
  t.equal(q.proto, 6);
  t.equal(m.quotedLen, 28);
});
const IP_BAD_TOTAL_LENGTH_EXPECTED = 8;

t.test('emit: error quoting header + 8 bytes matches the fixture', async (t) => {
  const out = new Uint8Array(100);
  const n = writeIcmpError(out, 0, 0x0101, 0x0a0000fe, ICMP_TIME_EXCEEDED, 0, 0,
    { buf: TCP_SYN, l3: 14, l4: 34, ipLen: TCP_SYN.length - 14, saddr: 0x0a000001 });
  t.equal(n, 56);
  t.same(Array.from(out.subarray(0, n)), Array.from(TIME_EXCEEDED.subarray(14)));
  t.equal(quoteLen(20, 24), 24, 'quote capped to the datagram');
});

t.test('emit: echo reply mirrors id/seq/data with a valid checksum', async (t) => {
  const out = new Uint8Array(64);
  const n = writeEchoReply(out, 0, 7, 0xc0a800c7, 0xc0a80001, ECHO, 34, 16);
  t.equal(n, 36);
  const m = new IcmpView().reset(out, 20, 16);
  t.equal(m.type, 0); t.equal(m.id, 0x1234); t.equal(m.seq, 1); t.ok(m.checksumOk());
  t.equal(new Ipv4View().reset(out, 0, n).check(), OK);
  const b = new Uint8Array(12);
  b.set([1, 2, 3, 4], 8);
  t.equal(emitIcmp(b, 0, 8, 0, 0x00050006, 4), 12);
  t.ok(new IcmpView().reset(b, 0, 12).checksumOk());
});

t.test('truncated', async (t) => {
  t.equal(new IcmpView().reset(ECHO, 34, 7).check(), ICMP_TRUNCATED);
  t.equal(new IcmpView().reset(ECHO, ECHO.length - 4, 8).check(), ICMP_TRUNCATED);
});
