import t from 'tap';
import { EthernetView, emitEthernet, ETHERTYPE_IPV4, ETHERTYPE_VLAN, formatMac, parseMac, BROADCAST_MAC } from '../../../stack/wire/ethernet.js';
import { ETH_TRUNCATED, OK } from '../../../stack/wire/reason.js';
import { ECHO, VLAN_ARP } from './fixtures.js';

t.test('reads every field', async (t) => {
  const e = new EthernetView().reset(ECHO, 0, ECHO.length);
  t.equal(e.check(), OK);
  t.equal(e.ethertype, ETHERTYPE_IPV4);
  const d = new Uint8Array(6), s = new Uint8Array(6);
  e.getDst(d); e.getSrc(s);
  t.equal(formatMac(d), '02:00:00:00:00:01');
  t.equal(formatMac(s), '02:00:00:00:00:02');
  t.ok(e.dstEquals(parseMac('02:00:00:00:00:01')!));
  t.notOk(e.dstIsGroup);
  const v = new EthernetView().reset(VLAN_ARP, 0, VLAN_ARP.length);
  t.equal(v.ethertype, ETHERTYPE_VLAN);
  t.ok(v.dstIsBroadcast && v.dstIsGroup);
});

t.test('view at an offset inside a slab', async (t) => {
  const slab = new Uint8Array(100);
  slab.set(ECHO, 30);
  const e = new EthernetView().reset(slab, 30, ECHO.length);
  t.equal(e.check(), OK);
  t.equal(e.ethertype, 0x0800);
  t.ok(e.srcEquals(parseMac('02:00:00:00:00:02')!));
});

t.test('emit matches the fixture and setters write in place', async (t) => {
  const b = new Uint8Array(14);
  t.equal(emitEthernet(b, 0, parseMac('02:00:00:00:00:01')!, 0, parseMac('02:00:00:00:00:02')!, 0, 0x0800), 14);
  t.same(Array.from(b), Array.from(ECHO.subarray(0, 14)));
  const e = new EthernetView().reset(b, 0, 14);
  e.setDst(BROADCAST_MAC); e.ethertype = 0x86dd;
  t.ok(e.dstIsBroadcast);
  t.equal(b[12], 0x86); t.equal(b[13], 0xdd);
});

t.test('truncated', async (t) => {
  t.equal(new EthernetView().reset(ECHO, 0, 13).check(), ETH_TRUNCATED);
  t.equal(new EthernetView().reset(ECHO, ECHO.length - 10, 14).check(), ETH_TRUNCATED, 'runs past the buffer');
  t.equal(parseMac('02:00:00:00:00'), null);
  t.equal(parseMac('zz:00:00:00:00:00'), null);
});
