import t from 'tap';
import { ArpView, emitArp, ARP_LEN, ARP_REQUEST } from '../../../stack/wire/arp.js';
import { formatMac, parseMac } from '../../../stack/wire/ethernet.js';
import { formatIpv4, parseIpv4 } from '../../../stack/wire/ipv4.js';
import { ARP_TRUNCATED, ARP_UNSUPPORTED, OK } from '../../../stack/wire/reason.js';
import { VLAN_ARP } from './fixtures.js';

const OFF = 18;

t.test('reads every field', async (t) => {
  const a = new ArpView().reset(VLAN_ARP, OFF, VLAN_ARP.length - OFF);
  t.equal(a.check(), OK);
  t.equal(a.htype, 1); t.equal(a.ptype, 0x0800); t.equal(a.hlen, 6); t.equal(a.plen, 4);
  t.equal(a.oper, ARP_REQUEST);
  const m = new Uint8Array(6);
  a.getSha(m); t.equal(formatMac(m), '02:00:00:00:00:02');
  a.getTha(m); t.equal(formatMac(m), '00:00:00:00:00:00');
  t.equal(formatIpv4(a.spa), '10.1.0.5');
  t.equal(formatIpv4(a.tpa), '10.1.0.1');
  t.ok(a.shaEquals(parseMac('02:00:00:00:00:02')!));
  t.equal(a.shaOff, OFF + 8); t.equal(a.thaOff, OFF + 18);
});

t.test('emit matches the fixture', async (t) => {
  const b = new Uint8Array(ARP_LEN);
  t.equal(emitArp(b, 0, ARP_REQUEST, parseMac('02:00:00:00:00:02')!, 0, parseIpv4('10.1.0.5')!, new Uint8Array(6), 0, parseIpv4('10.1.0.1')!), ARP_LEN);
  t.same(Array.from(b), Array.from(VLAN_ARP.subarray(OFF)));
});

t.test('malformed and truncated', async (t) => {
  t.equal(new ArpView().reset(VLAN_ARP, OFF, 27).check(), ARP_TRUNCATED);
  for (const [i, v] of [[1, 6], [2, 0x86], [4, 8], [5, 16]]) {
    const b = VLAN_ARP.slice(OFF);
    b[i] = v;
    t.equal(new ArpView().reset(b, 0, b.length).check(), ARP_UNSUPPORTED, `byte ${i}`);
  }
});
