import t from 'tap';
import {
  BOOTREPLY, DHCPOFFER, DhcpView, emitDhcpRequest, OPT_LEASE_TIME, OPT_MESSAGE_TYPE, OPT_ROUTER, OPT_SUBNET_MASK,
} from '../../../stack/wire/dhcp.js';
import { formatIpv4 } from '../../../stack/wire/ipv4.js';
import { rd32 } from '../../../stack/wire/view.js';
import { DHCP_DISCOVER_HEAD, DHCP_OFFER } from './fixtures.js';

const MAC = Uint8Array.of(2, 0, 0, 0, 0, 9);

t.test('reads the fixed part and walks the options', async (t) => {
  const m = new DhcpView().reset(DHCP_OFFER, 0, DHCP_OFFER.length);
  t.ok(m.valid());
  t.equal(m.op, BOOTREPLY); t.equal(m.xid, 0x12345678); t.equal(formatIpv4(m.yiaddr), '10.0.0.50');
  t.ok(m.chaddrEquals(MAC)); t.notOk(m.chaddrEquals(Uint8Array.of(2, 0, 0, 0, 0, 8)));
  const seen: Array<[number, number]> = [];
  m.options((code, at, n) => seen.push([code, n === 1 ? DHCP_OFFER[at]! : rd32(DHCP_OFFER, at)]));
  t.same(seen, [[OPT_MESSAGE_TYPE, DHCPOFFER], [OPT_SUBNET_MASK, 0xffffff00], [OPT_ROUTER, 0x0a000001], [OPT_LEASE_TIME, 600]]);
});

t.test('malformed: short, bad cookie, truncated options', async (t) => {
  t.notOk(new DhcpView().reset(DHCP_OFFER, 0, 239).valid(), 'shorter than the fixed part');
  const bad = DHCP_OFFER.slice(); bad[236] ^= 1;
  t.notOk(new DhcpView().reset(bad, 0, bad.length).valid(), 'bad magic cookie');
  const cut = new DhcpView().reset(DHCP_OFFER, 0, DHCP_OFFER.length - 8);
  const codes: number[] = [];
  cut.options((code) => codes.push(code));
  t.same(codes, [OPT_MESSAGE_TYPE, OPT_SUBNET_MASK, OPT_ROUTER], 'a truncated option ends the walk');
});

t.test('emit matches the fixture', async (t) => {
  const b = new Uint8Array(300);
  t.equal(emitDhcpRequest(b, 0, 0xcafe0001, 0, MAC), 240);
  t.same(Array.from(b.subarray(0, 240)), Array.from(DHCP_DISCOVER_HEAD));
});
