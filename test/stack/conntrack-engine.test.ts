// Conntrack + NAT plugged into the real forwarding engine (stack/forward.ts) on in-process
// links: masquerade both ways, a port forward with source NAT (the seed's), the router's own
// Time Exceeded about a translated flow, stateful TCP dropping a mid-stream segment, expiry on
// the engine's clock; every frame the hosts receive is checked and judged by tshark.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Conntrack } from '../../stack/conntrack.js';
import { NatEngine } from '../../stack/nat.js';
import { acceptAllHooks } from '../../stack/iface.js';
import type { StackHooks } from '../../stack/iface.js';
import { IcmpView } from '../../stack/wire/icmp.js';
import { Ipv4View } from '../../stack/wire/ipv4.js';
import { L4_DPORT, L4_SPORT } from '../../stack/wire/udp.js';
import { rd16 } from '../../stack/wire/view.js';
import type { Pkt } from '../../stack/wire/pkt.js';
import { A_MAC, B_MAC, ip, ipv4, ipValid, Parsed, R_MAC, twoLegs } from './hosts.js';
import { tsharkCheck } from './ct-helpers.js';
import { sum16 } from '../../stack/wire/checksum.js';

const A = ip('10.0.0.10'), B = ip('10.0.1.20');
const R0 = ip('10.0.0.1'), R1 = ip('10.0.1.1');

const dir = mkdtempSync(join(tmpdir(), `nacl-ct-engine-${process.pid}-`));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function ports(p: Parsed): [number, number] {
  const o = p.l3 + ipv4(p).headerLen;
  return [rd16(p.bytes, o + L4_SPORT), rd16(p.bytes, o + L4_DPORT)];
}

function ipOnly(ps: Parsed[]): Parsed[] {
  return ps.filter((p) => p.ethertype === 0x0800);
}

function setup(statefulTcp: boolean) {
  const ct = new Conntrack({ statefulTcp }, { nowMs: 1_000_000 });
  const nat = new NatEngine(ct, { ifaces: [{ address: R0, masquerade: false }, { address: R1, masquerade: true }], preservePorts: false });
  const hooks: StackHooks = acceptAllHooks(2);
  hooks.conn = nat;
  // The seed's port forward: outside R1:8080 -> A:80, source rewritten to the inside address.
  hooks.ifaces[1].prerouting = (p: Pkt) => {
    if (p.proto === 6 && p.daddr === R1 && p.dport === 8080) nat.dnat(p, A, 80);
    return 0;
  };
  hooks.ifaces[0].postrouting = (p: Pkt) => {
    if (p.ctState === 0 && p.inIf === 1 && p.daddr === A) nat.snat(p, R0, -1);
    return 0;
  };
  const fx = twoLegs({ pcapDir: dir, hooks });
  fx.stack.start();
  fx.pump();
  fx.a.take();
  fx.b.take();
  return { ct, nat, fx };
}

t.test('masquerade, port forward and Time Exceeded through the real engine', async (t) => {
  const { ct, nat, fx } = setup(true);
  const { a, b } = fx;

  // A -> B UDP leaves eth1 masqueraded.
  a.udp(R_MAC[0], B, 5000, 53, new Uint8Array(12));
  fx.pump();
  let got = ipOnly(b.take());
  t.equal(got.length, 1, 'B got the datagram');
  t.equal(ipv4(got[0]).saddr, R1, 'masqueraded to eth1 address');
  const [mport, dport] = ports(got[0]);
  t.equal(dport, 53);
  t.ok(mport >= 32768 && mport <= 60999, `pool port ${mport}`);
  t.ok(ipValid(got[0]));

  b.udp(R_MAC[1], R1, 53, mport, new Uint8Array(20));
  fx.pump();
  got = ipOnly(a.take());
  t.equal(got.length, 1, 'reply reaches A');
  t.equal(ipv4(got[0]).saddr, B);
  t.equal(ipv4(got[0]).daddr, A);
  t.same(ports(got[0]), [53, 5000]);
  t.ok(ipValid(got[0]));

  // Port forward: B -> R1:8080 (TCP handshake) arrives at A:80 from R0.
  b.tcp(R_MAC[1], R1, 41000, 8080, 0x02);
  fx.pump();
  got = ipOnly(a.take());
  t.equal(got.length, 1, 'SYN forwarded to A');
  t.equal(ipv4(got[0]).saddr, R0, 'source = inside address');
  t.equal(ipv4(got[0]).daddr, A);
  const [fport, aport] = ports(got[0]);
  t.equal(aport, 80);
  t.equal(fport, 41000, 'source port kept');
  t.ok(ipValid(got[0]));
  a.tcp(R_MAC[0], R0, 80, fport, 0x12);
  fx.pump();
  got = ipOnly(b.take());
  t.equal(got.length, 1, 'SYN-ACK back to B');
  t.equal(ipv4(got[0]).saddr, R1);
  t.same(ports(got[0]), [8080, 41000]);
  t.ok(ipValid(got[0]));
  b.tcp(R_MAC[1], R1, 41000, 8080, 0x10);
  fx.pump();
  t.equal(ipOnly(a.take()).length, 1, 'ACK forwarded');

  // The router's own Time Exceeded about a half-translated packet (DNAT done, SNAT pending).
  b.tcp(R_MAC[1], R1, 41000, 8080, 0x18, 1);
  fx.pump();
  got = ipOnly(b.take());
  t.equal(got.length, 1, 'Time Exceeded to B');
  const outer = ipv4(got[0]);
  t.equal(outer.proto, 1);
  t.equal(outer.daddr, B);
  const m = new IcmpView().reset(got[0].bytes, got[0].l3 + 20, outer.totalLen - 20);
  t.equal(m.type, 11);
  const inner = new Ipv4View().reset(got[0].bytes, got[0].l3 + 28, outer.totalLen - 28);
  t.equal(inner.saddr, B);
  t.equal(inner.daddr, R1, 'quoted destination is what B sent (R1:8080)');
  const io = got[0].l3 + 28 + 20;
  t.equal((got[0].bytes[io + 2] << 8) | got[0].bytes[io + 3], 8080);
  t.equal(sum16(got[0].bytes, got[0].l3 + 28, 20), 0xffff, 'quoted header checksum valid');
  t.ok(ipValid(got[0]));

  // Stateful TCP: a mid-stream segment of an unknown connection is dropped by track().
  const before = ct.stats().invalid;
  b.tcp(R_MAC[1], A, 42000, 22, 0x10);
  fx.pump();
  t.equal(ipOnly(a.take()).length, 0, 'mid-stream segment dropped');
  t.equal(ct.stats().invalid, before + 1);

  // Expiry on the engine's clock: the UDP flow (10 s) goes, its pool port returns.
  const udpPool = nat.stats().pools.find((p) => p.proto === 'udp')!;
  t.equal(udpPool.size - udpPool.free, 1);
  fx.now.t += 11_000;
  ct.tick(fx.now.t);
  fx.stack.tick(fx.now.t);
  const after = nat.stats().pools.find((p) => p.proto === 'udp')!;
  t.equal(after.free, after.size, 'pool port back after expiry');
  t.equal(ct.verify(), null);

  for (const p of fx.pcaps) p.close();
  const res = tsharkCheck(join(dir, 'router1.pcap'));
  t.ok(res.frames >= 4, `${res.frames} frames on eth1`);
  t.same(res.bad, []);
  const res0 = tsharkCheck(join(dir, 'router0.pcap'));
  t.ok(res0.frames >= 4, `${res0.frames} frames on eth0`);
  t.same(res0.bad, []);
  t.ok(A_MAC && B_MAC);
});
