import t from 'tap';
import { RouteTable } from '../../stack/route.js';
import { maskPrefix, prefixMask } from '../../stack/wire/ipv4.js';
import { ip } from './hosts.js';

t.test('longest prefix wins; ties go to the earlier route; on-link next hop', async (t) => {
  const rt = new RouteTable([
    { net: 0, prefix: 0, nexthop: ip('10.0.0.254'), iface: 0 },
    { net: ip('10.1.0.0'), prefix: 16, nexthop: ip('10.0.0.2'), iface: 1 },
    { net: ip('10.1.2.0'), prefix: 24, nexthop: 0, iface: 2 },
    { net: ip('10.1.2.0'), prefix: 24, nexthop: 0, iface: 3 },
    { net: ip('10.1.2.3'), prefix: 32, nexthop: ip('10.0.0.9'), iface: 4 },
    { net: ip('10.1.2.77'), prefix: 16, nexthop: ip('10.0.0.5'), iface: 5 },
  ]);
  const look = (a: string): [number, number] => { const i = rt.lookup(ip(a)); return [rt.iface(i), rt.nexthop(i, ip(a))]; };
  t.same(look('10.1.2.3'), [4, ip('10.0.0.9')], '/32');
  t.same(look('10.1.2.4'), [2, ip('10.1.2.4')], '/24 tie: earlier, on-link');
  t.same(look('10.1.9.9'), [1, ip('10.0.0.2')], '/16, earlier of two (host bits in net are masked)');
  t.same(look('192.0.2.1'), [0, ip('10.0.0.254')], 'default');
  t.equal(new RouteTable([]).lookup(1), -1);
  t.equal(rt.order[0], 4, 'display order maps back to config');
});

t.test('masks', async (t) => {
  t.equal(prefixMask(0), 0); t.equal(prefixMask(24), 0xffffff00); t.equal(prefixMask(32), 0xffffffff);
  t.equal(maskPrefix(0xffffff00), 24); t.equal(maskPrefix(0), 0); t.equal(maskPrefix(0xff00ff00), -1);
});
