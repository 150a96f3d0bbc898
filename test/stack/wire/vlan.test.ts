import t from 'tap';
import { VlanView, emitVlanTag, VLAN_TAG_LEN } from '../../../stack/wire/vlan.js';
import { OK, VLAN_TRUNCATED } from '../../../stack/wire/reason.js';
import { VLAN_ARP } from './fixtures.js';

t.test('reads every field', async (t) => {
  const v = new VlanView().reset(VLAN_ARP, 12, VLAN_ARP.length - 12);
  t.equal(v.check(), OK);
  t.equal(v.tpid, 0x8100);
  t.equal(v.pcp, 5);
  t.equal(v.dei, false);
  t.equal(v.vid, 100);
  t.equal(v.tci, 0xa064);
  t.equal(v.innerType, 0x0806);
});

t.test('emit matches the fixture; setters', async (t) => {
  const b = new Uint8Array(6);
  t.equal(emitVlanTag(b, 0, 100, 5), VLAN_TAG_LEN);
  t.same(Array.from(b.subarray(0, 4)), Array.from(VLAN_ARP.subarray(12, 16)));
  const v = new VlanView().reset(b, 0, 6);
  v.tci = 0x1fff; v.innerType = 0x0800;
  t.equal(v.vid, 0xfff); t.equal(v.dei, true); t.equal(v.pcp, 0);
  t.equal(v.innerType, 0x0800);
});

t.test('truncated', async (t) => {
  t.equal(new VlanView().reset(VLAN_ARP, 12, 5).check(), VLAN_TRUNCATED);
  t.equal(new VlanView().reset(VLAN_ARP, VLAN_ARP.length - 3, 6).check(), VLAN_TRUNCATED);
});
