import t from 'tap';
import { emitIpv4, formatIpv4, Ipv4View, parseIpv4, PROTO_ICMP, PROTO_UDP } from '../../../stack/wire/ipv4.js';
import { IP_BAD_CHECKSUM, IP_BAD_IHL, IP_BAD_TOTAL_LENGTH, IP_BAD_VERSION, IP_TRUNCATED, OK } from '../../../stack/wire/reason.js';
import { ECHO, UDP_OPT } from './fixtures.js';

t.test('reads every field', async (t) => {
  const ip = new Ipv4View().reset(ECHO, 14, ECHO.length - 14);
  t.equal(ip.check(), OK);
  t.equal(ip.version, 4); t.equal(ip.ihl, 5); t.equal(ip.headerLen, 20);
  t.equal(ip.tos, 0); t.equal(ip.dscp, 0); t.equal(ip.ecn, 0);
  t.equal(ip.totalLen, 36); t.equal(ip.id, 0x1c46);
  t.equal(ip.df, true); t.equal(ip.mf, false); t.equal(ip.fragOffset, 0); t.equal(ip.isFragment, false);
  t.equal(ip.ttl, 64); t.equal(ip.proto, PROTO_ICMP); t.equal(ip.csum, 0x9c7a);
  t.equal(formatIpv4(ip.saddr), '192.168.0.1');
  t.equal(formatIpv4(ip.daddr), '192.168.0.199');
});

t.test('options are skipped via IHL', async (t) => {
  const ip = new Ipv4View().reset(UDP_OPT, 14, UDP_OPT.length - 14);
  t.equal(ip.check(), OK);
  t.equal(ip.ihl, 6); t.equal(ip.headerLen, 24); t.equal(ip.proto, PROTO_UDP); t.equal(ip.ttl, 17);
  t.equal(UDP_OPT[14 + ip.headerLen], 0x14, 'payload starts after the option');
});

t.test('emit matches the fixture', async (t) => {
  const b = new Uint8Array(20);
  emitIpv4(b, 0, 36, 0x1c46, 64, PROTO_ICMP, parseIpv4('192.168.0.1')!, parseIpv4('192.168.0.199')!, 0, true);
  t.same(Array.from(b), Array.from(ECHO.subarray(14, 34)));
});

t.test('decTtl keeps the checksum valid (RFC 1624) and setters', async (t) => {
  const b = ECHO.slice(14);
  const ip = new Ipv4View().reset(b, 0, b.length);
  for (let i = 0; i < 63; i++) { ip.decTtl(); t.equal(ip.check(), OK); }
  t.equal(ip.ttl, 1);
  ip.saddr = parseIpv4('10.9.8.7')!; ip.daddr = 0xffffffff;
  t.equal(ip.check(), IP_BAD_CHECKSUM);
  ip.fillChecksum();
  t.equal(ip.check(), OK);
  t.equal(formatIpv4(ip.saddr), '10.9.8.7');
  t.equal(ip.daddr, 0xffffffff);
});

t.test('malformed and truncated', async (t) => {
  const v = new Ipv4View();
  t.equal(v.reset(ECHO, 14, 19).check(), IP_TRUNCATED);
  let b = ECHO.slice(14); b[0] = 0x65;
  t.equal(v.reset(b, 0, b.length).check(), IP_BAD_VERSION);
  b = ECHO.slice(14); b[0] = 0x44;
  t.equal(v.reset(b, 0, b.length).check(), IP_BAD_IHL);
  b = ECHO.slice(14); b[0] = 0x4f;
  t.equal(v.reset(b, 0, b.length).check(), IP_BAD_IHL, 'IHL beyond the bytes');
  b = ECHO.slice(14); b[3] = 19;
  t.equal(v.reset(b, 0, b.length).check(), IP_BAD_TOTAL_LENGTH, 'total length below header');
  b = ECHO.slice(14); b[3] = 37;
  t.equal(v.reset(b, 0, b.length).check(), IP_BAD_TOTAL_LENGTH, 'total length beyond frame');
  b = ECHO.slice(14); b[8] = 63;
  t.equal(v.reset(b, 0, b.length).check(), IP_BAD_CHECKSUM);
  t.equal(v.reset(b, 0, b.length).check(true), OK, 'checksum skipped on request');
  t.equal(parseIpv4('1.2.3.256'), null);
  t.equal(parseIpv4('1.2.3'), null);
  t.equal(parseIpv4('255.255.255.255'), 0xffffffff);
});
