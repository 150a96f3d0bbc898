// Time-bounded fuzz (~4 s): random and mutated frames (ARP, IPv4 with options, fragments,
// ICMP/UDP/TCP, VLAN tags, virtio_net_hdr metadata) through a three-Iface stack with hooks
// that drop at random. Nothing may throw; every frame must end forwarded, delivered, dropped
// and counted, or queued for ARP (the fate ledger adds up), also across ARP timeouts.
import t from 'tap';
import { memoryPair, pumpAll } from '../../drivers/memory.js';
import type { FrameBatch } from '../../drivers/link.js';
import { Stack } from '../../stack/stack.js';
import type { StackHooks } from '../../stack/iface.js';
import { ETH_TYPE, ETHERTYPE_ARP, ETHERTYPE_IPV4 } from '../../stack/wire/ethernet.js';
import { wr16 } from '../../stack/wire/view.js';
import { emitVlanTag } from '../../stack/wire/vlan.js';
import { emitArp } from '../../stack/wire/arp.js';
import { emitIcmp } from '../../stack/wire/icmp.js';
import { emitIpv4, IP_FLAG_MF, IP_MIN_HEADER_LEN, Ipv4View } from '../../stack/wire/ipv4.js';
import { Pkt } from '../../stack/wire/pkt.js';
import { emitTcp } from '../../stack/wire/tcp.js';
import { emitUdp } from '../../stack/wire/udp.js';
import { Host, ip, mac } from './hosts.js';

const DURATION_MS = Number(process.env.FUZZ_MS ?? 4000);
let seed = Number(process.env.FUZZ_SEED ?? 0x5eed);
const rnd = (): number => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) / 4294967296; };
const ri = (n: number): number => Math.floor(rnd() * n);

const RMAC = [mac('02:00:00:00:01:00'), mac('02:00:00:00:01:01')];
const HMAC = mac('02:00:00:00:0a:0a');

function template(): Uint8Array {
  const f = new Uint8Array(1600);
  const tagged = rnd() < 0.3;
  const link = 0;
  f.set(rnd() < 0.85 ? RMAC[link] : rnd() < 0.5 ? mac('ff:ff:ff:ff:ff:ff') : HMAC, 0);
  f.set(HMAC, 6);
  let o = ETH_TYPE;
  if (tagged) o += emitVlanTag(f, ETH_TYPE, rnd() < 0.8 ? 10 : ri(4096));
  const kind = ri(6);
  if (kind === 0) {
    wr16(f, o, ETHERTYPE_ARP);
    const pool = [ip('10.0.0.1'), ip('10.0.0.10'), ip('10.0.10.1'), ip('10.0.0.77'), ip('10.0.1.5')];
    emitArp(f, o + 2, 1 + ri(2), HMAC, 0, pool[ri(pool.length)], rnd() < 0.5 ? RMAC[0] : new Uint8Array(6), 0, pool[ri(pool.length)]);
    return f.slice(0, o + 2 + 28 + ri(20));
  }
  wr16(f, o, ETHERTYPE_IPV4);
  const l3 = o + 2;
  const opt = rnd() < 0.2 ? 4 * (1 + ri(3)) : 0;
  const hl = 20 + opt;
  const dsts = [ip('10.0.0.1'), ip('10.0.1.20'), ip('10.0.10.5'), ip('10.0.1.99'), ip('192.0.2.1'), ip('10.0.10.1'), 0xffffffff, ip('224.0.0.5'), ip('10.0.1.255')];
  const dst = dsts[ri(dsts.length)];
  const src = rnd() < 0.9 ? ip('10.0.0.10') : ri(0xffffffff);
  const plen = ri(200);
  let l4len = 0;
  const l4 = l3 + hl;
  const proto = [1, 6, 17, 47][ri(4)];
  if (proto === 1) { l4len = 8 + plen; emitIcmp(f, l4, [0, 3, 8, 11, 12][ri(5)], 0, ri(0xffffffff), plen); }
  else if (proto === 17) { l4len = 8 + plen; emitUdp(f, l4, src, dst, ri(65536), [514, 53, 9999, 7][ri(4)], plen); }
  else if (proto === 6) { l4len = 20 + plen; emitTcp(f, l4, src, dst, ri(65536), 80, ri(1e9), 0, ri(256), 1000, plen); }
  else l4len = plen;
  emitIpv4(f, l3, hl + l4len, ri(65536), [0, 1, 2, 64, 255][ri(5)], proto, src, dst);
  const h = new Ipv4View().reset(f, l3, f.length - l3);
  if (opt) {
    // IPv4 options (NOPs): the L4 header moves behind them.
    f.copyWithin(l3 + hl, l3 + IP_MIN_HEADER_LEN, l3 + IP_MIN_HEADER_LEN + l4len);
    f.fill(1, l3 + IP_MIN_HEADER_LEN, l3 + hl);
    h.setHeaderLen(hl);
    h.totalLen = hl + l4len;
    h.fillChecksum();
  }
  // Now and then a fragment: MF, or offset 8 (64 bytes), or both.
  if (rnd() < 0.1) h.fragField = (rnd() < 0.5 ? IP_FLAG_MF : 0) | (rnd() < 0.5 ? 0 : 8);
  return f.slice(0, l3 + hl + l4len + (rnd() < 0.2 ? ri(30) : 0));
}

function mutate(f: Uint8Array): Uint8Array {
  const r = rnd();
  if (r < 0.3) return f;
  if (r < 0.5) { const g = f.slice(); const n = 1 + ri(4); for (let i = 0; i < n; i++) g[ri(g.length)] = ri(256); return g; }
  if (r < 0.7) return f.slice(0, ri(f.length + 1));
  if (r < 0.8) { const g = new Uint8Array(ri(1600)); for (let i = 0; i < g.length; i++) g[i] = ri(256); if (g.length > 6) g.set(RMAC[0], 0); return g; }
  const g = f.slice(); const at = 14 + ri(40); if (at + 1 < g.length) { g[at] ^= 1 << ri(8); } return g;
}

t.test('random and mutated frames: no exception, every frame accounted for', async (t) => {
  const [r0, h0] = memoryPair('r0', RMAC[0], 'h0', HMAC);
  const [r1, h1] = memoryPair('r1', RMAC[1], 'h1', HMAC, { vnetHdr: true });
  const hosts = [new Host(h0, HMAC, ip('10.0.0.10')), new Host(h1, HMAC, ip('10.0.1.20'))];
  let now = 1000;
  const drop = (p: Pkt): number => (p.sport % 17 === 3 ? 1 : 0);
  const hooks: StackHooks = {
    ifaces: [0, 1, 2].map(() => ({ prerouting: drop, input: (p: Pkt) => (p.dport === 7 ? 1 : 0), output: () => 0, postrouting: drop })),
    forward: (p: Pkt) => (p.proto === 47 && p.ipLen % 3 === 0 ? 1 : 0),
    conn: { track: (p: Pkt) => (p.daddr === ip('10.0.1.5') ? 1 : 0), local: () => 0, finish: () => 0 },
  };
  const stack = new Stack({
    ifaces: [
      { name: 'eth0', link: 0, mac: RMAC[0], address: ip('10.0.0.1'), netmask: ip('255.255.255.0'), vlan: null },
      { name: 'v10', link: 0, mac: RMAC[0], address: ip('10.0.10.1'), netmask: ip('255.255.255.0'), vlan: 10 },
      { name: 'eth1', link: 1, mac: RMAC[1], address: ip('10.0.1.1'), netmask: ip('255.255.255.0'), vlan: null, sendQueueLimit: 40 },
    ],
    routes: [
      { net: ip('10.0.0.0'), prefix: 24, nexthop: 0, iface: 0 },
      { net: ip('10.0.10.0'), prefix: 24, nexthop: 0, iface: 1 },
      { net: ip('10.0.1.0'), prefix: 24, nexthop: 0, iface: 2 },
    ],
    sendTimeExceeded: true, hooks, clock: () => now, arpQueueLimit: 16,
  }, [r0, r1]);
  stack.start();
  const slab = new Uint8Array(256 * 1024);
  const batch: FrameBatch = { buf: slab, off: new Int32Array(64), len: new Int32Array(64), count: 0 };
  const corpus: Uint8Array[] = [];
  for (let i = 0; i < 64; i++) corpus.push(template());
  const end = Date.now() + DURATION_MS;
  let frames = 0, batches = 0;
  while (Date.now() < end) {
    let pos = 0;
    const n = 1 + ri(64);
    batch.count = 0;
    for (let i = 0; i < n; i++) {
      const f = mutate(rnd() < 0.5 ? template() : corpus[ri(corpus.length)]);
      const head = ri(3) === 0 ? 0 : 12 + ri(40);
      for (let k = 0; k < head; k++) slab[pos + k] = ri(256);
      if (head >= 12 && rnd() < 0.3) { slab[pos + head - 12] = 1; slab[pos + head - 11] = ri(2) ? 1 : 0; }
      pos += head;
      if (pos + f.length > slab.length) break;
      slab.set(f, pos);
      batch.off[batch.count] = pos; batch.len[batch.count] = f.length; batch.count++;
      pos += f.length;
    }
    stack.receive(ri(2), batch);
    frames += batch.count;
    batches++;
    if (batches % 8 === 0) { now += ri(700); stack.tick(); }
    pumpAll([h0, h1, r0, r1], 3);
    for (const h of hosts) h.take();
  }
  for (let i = 0; i < 10; i++) { now += 1000; stack.tick(); }
  const s = stack.snapshot();
  t.ok(frames > 1000, `${frames} frames in ${batches} batches`);
  t.equal(s.drops.internal_error, undefined, 'no exception inside the stack');
  t.equal(s.fate.rx, frames + r0.stats.rxPackets + r1.stats.rxPackets, 'every frame seen (fuzz + host replies)');
  t.equal(s.fate.rx, s.fate.forwarded + s.fate.delivered + s.fate.dropped + s.fate.queued, 'ledger adds up');
  t.equal(s.fate.queued, 0, 'the ARP queue drained by timeout');
  t.ok(s.fate.forwarded > 0 && s.fate.delivered > 0 && s.fate.dropped > 0, JSON.stringify(s.fate));
  t.comment(JSON.stringify(s.drops));
});
