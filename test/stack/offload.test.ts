// virtio_net_hdr offloads through the stack: partial checksums completed in software towards
// links without vnet_hdr, GSO super-frames kept whole (metadata adjusted for a VLAN tag)
// towards links with it, and dropped and counted towards links without.
import t from 'tap';
import { memoryPair, pumpAll } from '../../drivers/memory.js';
import { Stack } from '../../stack/forward.js';
import { acceptAllHooks } from '../../stack/iface.js';
import { pseudoSum, sum16 } from '../../stack/wire/checksum.js';
import { emitIpv4 } from '../../stack/wire/ipv4.js';
import { Host, ip, ipv4, ipValid, mac } from './hosts.js';

const RM = [mac('02:00:00:00:01:00'), mac('02:00:00:00:01:01'), mac('02:00:00:00:01:02')];
const AM = mac('02:00:00:00:0a:0a'), BM = mac('02:00:00:00:0b:0b'), CM = mac('02:00:00:00:0c:0c');

/** A TCP segment with a partial checksum (pseudo-header sum only), as a TAP peer sends it. */
function partialTcp(src: number, dst: number, payload: number): Uint8Array {
  const f = new Uint8Array(14 + 20 + 20 + payload);
  f.set(RM[0], 0); f.set(AM, 6); f[12] = 8; f[13] = 0;
  const l4 = 34;
  f[l4] = 0x9c; f[l4 + 1] = 0x40; f[l4 + 2] = 0; f[l4 + 3] = 80; f[l4 + 12] = 5 << 4; f[l4 + 13] = 0x18;
  f[l4 + 14] = 0xff; f[l4 + 15] = 0xff;
  for (let i = 0; i < payload; i++) f[l4 + 20 + i] = i * 7;
  const ps = pseudoSum(src, dst, 6, 20 + payload);
  f[l4 + 16] = ps >>> 8; f[l4 + 17] = ps;
  emitIpv4(f, 14, 40 + payload, 1, 64, 6, src, dst);
  return f;
}

function vnetHdr(gsoType: number, gsoSize: number, csumStart: number, csumOffset: number, hdrLen: number): Uint8Array {
  const h = new Uint8Array(12);
  h[0] = 1; h[1] = gsoType; h[2] = hdrLen; h[4] = gsoSize & 0xff; h[5] = gsoSize >>> 8;
  h[6] = csumStart; h[8] = csumOffset;
  return h;
}

t.test('offload metadata across vnet and plain links', async (t) => {
  const [r0, h0] = memoryPair('r0', RM[0], 'h0', AM, { vnetHdr: true });
  const [r1, h1] = memoryPair('r1', RM[1], 'h1', BM);
  const [r2, h2] = memoryPair('r2', RM[2], 'h2', CM, { vnetHdr: true });
  const stack = new Stack({
    ifaces: [
      { name: 'eth0', link: 0, mac: RM[0], address: ip('10.0.0.1'), netmask: ip('255.255.255.0'), vlan: null },
      { name: 'eth1', link: 1, mac: RM[1], address: ip('10.0.1.1'), netmask: ip('255.255.255.0'), vlan: null },
      { name: 'v5', link: 2, mac: RM[2], address: ip('10.0.5.1'), netmask: ip('255.255.255.0'), vlan: 5 },
    ],
    routes: [
      { net: ip('10.0.0.0'), prefix: 24, nexthop: 0, iface: 0 },
      { net: ip('10.0.1.0'), prefix: 24, nexthop: 0, iface: 1 },
      { net: ip('10.0.5.0'), prefix: 24, nexthop: 0, iface: 2 },
    ],
    sendTimeExceeded: true, hooks: acceptAllHooks(3), clock: () => 1000,
  }, [r0, r1, r2]);
  const a = new Host(h0, AM, ip('10.0.0.10'));
  const b = new Host(h1, BM, ip('10.0.1.20'));
  const c = new Host(h2, CM, ip('10.0.5.30'));
  c.vlan = 5;
  const pump = (): number => pumpAll([r0, r1, r2, h0, h1, h2]);
  stack.start(); pump();
  b.arpRequest(ip('10.0.1.1')); c.arpRequest(ip('10.0.5.1')); pump();
  for (const h of [a, b, c]) h.take();

  // Partial checksum -> plain link: completed in software.
  a.send(partialTcp(a.addr, b.addr, 100), vnetHdr(0, 0, 34, 16, 0));
  pump();
  let got = b.take();
  t.equal(got.length, 1);
  t.ok(ipValid(got[0]), 'full TCP checksum after forwarding to a link without offload');

  // GSO super-frame -> plain link: dropped and counted.
  const big = partialTcp(a.addr, b.addr, 4000);
  a.send(big, vnetHdr(1, 1448, 34, 16, 54));
  pump();
  t.equal(b.take().length, 0);
  t.equal(stack.snapshot().drops.gso_unsupported, 1);

  // GSO super-frame -> vnet link with a VLAN tag: one unit, metadata shifted by the tag.
  a.send(partialTcp(a.addr, c.addr, 4000), vnetHdr(1, 1448, 34, 16, 54));
  pump();
  got = c.take().filter((p) => p.ethertype === 0x0800);
  t.equal(got.length, 1, 'the 4 KB super-frame crossed as one frame');
  const p = got[0];
  t.equal(p.vlan, 5);
  t.equal(ipv4(p).totalLen, 4040); t.equal(ipv4(p).ttl, 63);
  const h = p.vnet!;
  t.equal(h[0], 1, 'NEEDS_CSUM kept'); t.equal(h[1], 1, 'GSO TCPv4');
  t.equal(h[4] | (h[5] << 8), 1448, 'gso_size');
  t.equal(h[6] | (h[7] << 8), 38, 'csum_start moved by the 4-byte tag');
  t.equal(h[8] | (h[9] << 8), 16);
  t.equal(h[2] | (h[3] << 8), 58, 'hdr_len = eth+vlan+ip+tcp');
  const l4 = p.l3 + 20;
  const field = (p.bytes[l4 + 16] << 8) | p.bytes[l4 + 17];
  t.equal(field, pseudoSum(a.addr, c.addr, 6, 4020), 'partial checksum still the pseudo-header sum');
  const f = p.bytes.slice();
  const full = ~sum16(f, l4, 4020) & 0xffff;
  f[l4 + 16] = full >>> 8; f[l4 + 17] = full;
  t.equal(sum16(f, l4, 4020, pseudoSum(a.addr, c.addr, 6, 4020)), 0xffff, 'completing it yields a valid segment');
  const s = stack.snapshot();
  t.equal(s.fate.rx, s.fate.forwarded + s.fate.delivered + s.fate.dropped + s.fate.queued);
});
