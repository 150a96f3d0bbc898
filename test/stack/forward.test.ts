// The stack between two simulated hosts on in-process links: ARP, ping of the router's
// addresses, forwarding both ways, ICMP errors, LPM, ARP queue bounds, VLANs, hooks, local UDP,
// and tshark as an independent judge of every frame the router emitted.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLink, memoryPair, pumpAll } from '../../drivers/memory.js';
import { Stack } from '../../stack/stack.js';
import { ACCEPT_ALL, acceptAllHooks } from '../../stack/iface.js';
import type { StackHooks } from '../../stack/iface.js';
import { ArpView, ARP_REPLY, ARP_REQUEST } from '../../stack/wire/arp.js';
import { IcmpView } from '../../stack/wire/icmp.js';
import { formatIpv4, IP_MIN_HEADER_LEN, Ipv4View } from '../../stack/wire/ipv4.js';
import { ACCEPT, DROP, HOOK_FORWARD, HOOK_INPUT, HOOK_OUTPUT, HOOK_POSTROUTING, HOOK_PREROUTING, Pkt } from '../../stack/wire/pkt.js';
import type { ConnHooks } from '../../stack/wire/pkt.js';
import { NO_ADDRESS } from '../../stack/wire/reason.js';
import { UDP_HEADER_LEN, UdpView } from '../../stack/wire/udp.js';
import { A_MAC, B_MAC, Host, ip, ipv4, ipValid, mac, Parsed, R_MAC, twoLegs } from './hosts.js';

const arpOf = (p: Parsed): ArpView => new ArpView().reset(p.bytes, p.l3, p.bytes.length - p.l3);
const icmpOf = (p: Parsed): IcmpView => {
  const v = ipv4(p);
  return new IcmpView().reset(p.bytes, p.l3 + v.headerLen, v.totalLen - v.headerLen);
};
const sameMac = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));
const ledger = (s: Stack): boolean => {
  const f = s.snapshot().fate;
  return f.rx === f.forwarded + f.delivered + f.dropped + f.queued;
};

const dir = mkdtempSync(join(tmpdir(), `nacl-stack-${process.pid}-`));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('ARP, ping, forwarding, ICMP errors; tshark agrees with every emitted byte', async (t) => {
  const fx = twoLegs({
    pcapDir: dir,
    routes: [
      { net: ip('10.0.0.0'), prefix: 24, nexthop: 0, iface: 0 },
      { net: ip('10.0.1.0'), prefix: 24, nexthop: 0, iface: 1 },
    ],
  });
  const { stack, a, b } = fx;
  stack.start();
  fx.pump();

  // Gratuitous ARP at start on both Ifaces.
  const g0 = a.take().filter((p) => p.ethertype === 0x0806).map(arpOf);
  t.equal(g0.length, 1, 'one gratuitous ARP on eth0');
  t.equal(g0[0].spa, ip('10.0.0.1')); t.equal(g0[0].tpa, ip('10.0.0.1'));
  t.equal(b.take().filter((p) => p.ethertype === 0x0806).length, 1, 'one on eth1');

  // Host A resolves the router.
  a.arpRequest(ip('10.0.0.1'));
  fx.pump();
  let got = a.take();
  t.equal(got.length, 1);
  let arp = arpOf(got[0]);
  t.equal(arp.oper, ARP_REPLY);
  t.equal(arp.spa, ip('10.0.0.1')); t.equal(arp.tpa, ip('10.0.0.10'));
  t.ok(arp.shaEquals(R_MAC[0]), 'router MAC in the reply');
  t.ok(sameMac(got[0].dst, A_MAC));

  // Ping of eth0's address (router learned A from A's request: no ARP needed).
  a.ping(R_MAC[0], ip('10.0.0.1'), { id: 11, seq: 1 });
  fx.pump();
  got = a.take();
  t.equal(got.length, 1, 'echo reply');
  let m = icmpOf(got[0]);
  t.equal(m.type, 0); t.equal(m.id, 11); t.equal(m.seq, 1);
  t.equal(ipv4(got[0]).saddr, ip('10.0.0.1'));
  t.ok(ipValid(got[0]), 'reply checksums');

  // Ping of eth1's address from B: the router must ARP for B first (B answers).
  b.ping(R_MAC[1], ip('10.0.1.1'), { id: 12, seq: 9 });
  fx.pump();
  got = b.take();
  const breq = got.filter((p) => p.ethertype === 0x0806).map(arpOf);
  t.equal(breq.length, 1); t.equal(breq[0].oper, ARP_REQUEST); t.equal(breq[0].tpa, ip('10.0.1.20'));
  const brep = got.filter((p) => p.ethertype === 0x0800);
  t.equal(brep.length, 1, 'echo reply after ARP resolution');
  m = icmpOf(brep[0]);
  t.equal(m.type, 0); t.equal(m.seq, 9); t.equal(ipv4(brep[0]).saddr, ip('10.0.1.1'));
  t.ok(sameMac(brep[0].dst, B_MAC) && sameMac(brep[0].src, R_MAC[1]));

  // A pinging eth1's address across is routed to eth1's stack, answered from 10.0.1.1.
  a.ping(R_MAC[0], ip('10.0.1.1'), { id: 13 });
  fx.pump();
  got = a.take();
  t.equal(got.length, 1); t.equal(ipv4(got[0]).saddr, ip('10.0.1.1'));

  // Forwarding A -> B: TTL decremented, checksums valid, MACs rewritten.
  const sent = a.ping(R_MAC[0], ip('10.0.1.20'), { id: 14, ttl: 64 });
  a.udp(R_MAC[0], ip('10.0.1.20'), 5000, 4000, Buffer.from('query'));
  a.tcp(R_MAC[0], ip('10.0.1.20'), 40000, 80, 0x02);
  fx.pump();
  got = b.take();
  t.equal(got.length, 3, 'three datagrams forwarded');
  for (const p of got) {
    const v = ipv4(p);
    t.equal(v.ttl, 63, 'TTL decremented');
    t.ok(ipValid(p), 'checksums valid after forwarding');
    t.ok(sameMac(p.src, R_MAC[1]) && sameMac(p.dst, B_MAC));
    t.equal(v.saddr, ip('10.0.0.10'));
  }
  t.same(Array.from(got[0].bytes.subarray(34)), Array.from(sent.subarray(34)), 'payload untouched');

  // Forwarding B -> A.
  b.udp(R_MAC[1], ip('10.0.0.10'), 4000, 5000, Buffer.from('answer'));
  fx.pump();
  got = a.take();
  t.equal(got.length, 1);
  t.equal(ipv4(got[0]).ttl, 63); t.ok(ipValid(got[0]));
  t.equal(ipv4(got[0]).saddr, ip('10.0.1.20'));

  // TTL 1: Time Exceeded quoting the header + 8 bytes, from the ingress address.
  a.udp(R_MAC[0], ip('10.0.1.20'), 5001, 33434, Buffer.from('traceroute'), 1);
  fx.pump();
  got = a.take();
  t.equal(got.length, 1);
  m = icmpOf(got[0]);
  t.equal(m.type, 11); t.equal(m.code, 0);
  t.equal(ipv4(got[0]).saddr, ip('10.0.0.1'));
  t.equal(m.quotedLen, 28, 'IPv4 header + 8 bytes');
  const q = new Ipv4View().reset(got[0].bytes, m.quotedOff, m.quotedLen);
  t.equal(q.daddr, ip('10.0.1.20')); t.equal(q.ttl, 1);
  t.ok(ipValid(got[0]));
  t.equal(b.take().length, 0, 'nothing forwarded');

  // No route: Net Unreachable.
  a.ping(R_MAC[0], ip('192.168.77.7'));
  fx.pump();
  got = a.take();
  t.equal(got.length, 1);
  m = icmpOf(got[0]); t.equal(m.type, 3); t.equal(m.code, 0);
  t.ok(ipValid(got[0]));

  // UDP to a closed port of the router: Port Unreachable; to a bound port: delivered.
  a.udp(R_MAC[0], ip('10.0.0.1'), 5000, 9999, Buffer.from('x'));
  const seen: string[] = [];
  stack.bindUdp(514, (buf, off, len, saddr, sport, ifx) => { seen.push(`${Buffer.from(buf.subarray(off, off + len))}|${formatIpv4(saddr)}:${sport}|${ifx}`); });
  a.udp(R_MAC[0], ip('10.0.0.1'), 6000, 514, Buffer.from('<13>hello'));
  fx.pump();
  got = a.take();
  t.equal(got.length, 1); m = icmpOf(got[0]); t.equal(m.type, 3); t.equal(m.code, 3);
  t.same(seen, ['<13>hello|10.0.0.10:6000|0']);

  // Router-originated UDP (syslog path).
  t.equal(stack.sendUdp(ip('10.0.1.20'), 40514, 514, Buffer.from('<14>syslog line')), 0);
  fx.pump();
  got = b.take();
  t.equal(got.length, 1);
  const v = ipv4(got[0]);
  t.equal(v.saddr, ip('10.0.1.1')); t.equal(v.proto, 17); t.ok(ipValid(got[0]));
  const u = new UdpView().reset(got[0].bytes, got[0].l3 + 20, v.totalLen - 20);
  t.equal(u.dport, 514); t.equal(u.sport, 40514);

  // IPv6 and unknown EtherTypes are dropped and counted.
  const v6 = new Uint8Array(60); v6.set(R_MAC[0], 0); v6.set(A_MAC, 6); v6[12] = 0x86; v6[13] = 0xdd;
  a.send(v6);
  const other = v6.slice(); other[12] = 0x88; other[13] = 0xcc;
  a.send(other);
  fx.pump();
  const snap = stack.snapshot();
  t.equal(snap.drops.ethertype_ipv6, 1); t.equal(snap.drops.ethertype_other, 1);
  t.equal(snap.drops.ttl_exceeded, 1); t.equal(snap.drops.no_route, 1);
  t.equal(snap.drops.local_no_handler, 1);
  t.ok(snap.ifaces[0].rxPackets > 0 && snap.ifaces[1].txPackets > 0);
  t.ok(snap.ifaces[0].arp.requestsRx >= 1 && snap.ifaces[1].arp.repliesRx === 1);
  t.ok(ledger(stack), 'fate ledger adds up');
  t.equal(snap.drops.internal_error, undefined);

  for (const p of fx.pcaps) p.close();
  for (const f of ['router0.pcap', 'router1.pcap']) {
    const path = join(dir, f);
    const out = execFileSync('tshark', ['-r', path, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE',
      '-o', 'udp.check_checksum:TRUE', '-T', 'fields', '-e', 'frame.number', '-e', '_ws.expert.message',
      '-e', '_ws.malformed', '-e', 'ip.checksum.status', '-e', 'icmp.checksum_bad'], { encoding: 'utf8' });
    const lines = out.trim().split('\n');
    t.ok(lines.length >= 5, `${f}: tshark decoded ${lines.length} frames`);
    const bad = lines.filter((l) => /malformed|bad|incorrect|error/i.test(l.split('\t').slice(1).join('\t')));
    t.same(bad, [], `${f}: no malformed packets or bad checksums`);
    const status = lines.map((l) => l.split('\t')[3] ?? '').filter((x) => x !== '');
    t.ok(status.length >= 4 && status.every((x) => x.split(',').every((v) => v === '1')),
      `${f}: every IPv4 header checksum (${status.length} datagrams, quoted ones included) verified Good`);
  }
});

t.test('LPM: the longest prefix wins; among equal prefixes the earlier route', async (t) => {
  const fx = twoLegs({
    routes: [
      { net: ip('10.0.0.0'), prefix: 24, nexthop: 0, iface: 0 },
      { net: ip('10.0.1.0'), prefix: 24, nexthop: 0, iface: 1 },
      { net: ip('10.0.2.0'), prefix: 24, nexthop: ip('10.0.1.30'), iface: 1 },
      { net: ip('10.0.2.128'), prefix: 25, nexthop: ip('10.0.1.40'), iface: 1 },
      { net: ip('10.0.3.0'), prefix: 24, nexthop: ip('10.0.1.50'), iface: 1 },
      { net: ip('10.0.3.0'), prefix: 24, nexthop: ip('10.0.1.60'), iface: 1 },
      { net: 0, prefix: 0, nexthop: ip('10.0.1.70'), iface: 1 },
    ],
  });
  fx.stack.start(); fx.pump(); fx.a.take(); fx.b.take();
  const target = (dst: string): string => {
    fx.a.ping(R_MAC[0], ip(dst));
    fx.pump();
    const reqs = fx.b.take().filter((p) => p.ethertype === 0x0806).map(arpOf);
    return reqs.length ? formatIpv4(reqs[0].tpa) : 'none';
  };
  t.equal(target('10.0.2.200'), '10.0.1.40', '/25 beats /24');
  t.equal(target('10.0.2.5'), '10.0.1.30');
  t.equal(target('10.0.3.9'), '10.0.1.50', 'tie: earlier route');
  t.equal(target('8.8.8.8'), '10.0.1.70', 'default route');
  t.equal(target('10.0.1.99'), '10.0.1.99', 'on-link');
});

t.test('ARP queue overflow and timeout are counted; retries are bounded', async (t) => {
  const fx = twoLegs({ extra: { arpQueueLimit: 4, arpRetryMs: 1000, arpRetries: 3 } });
  const { stack, a, b } = fx;
  b.arp = false;
  stack.start(); fx.pump(); a.take(); b.take();
  for (let i = 0; i < 10; i++) a.ping(R_MAC[0], ip('10.0.1.99'), { seq: i });
  fx.pump();
  let s = stack.snapshot();
  t.equal(s.drops.arp_queue_full, 6, 'six beyond the queue');
  t.equal(s.ifaces[1].arp.queued, 4);
  t.equal(s.fate.queued, 4);
  t.ok(ledger(stack));
  t.equal(b.take().filter((p) => p.ethertype === 0x0806).length, 1, 'one request, not one per packet');
  for (let k = 1; k <= 4; k++) { fx.now.t += 1000; stack.tick(); fx.pump(); }
  s = stack.snapshot();
  t.equal(b.take().filter((p) => p.ethertype === 0x0806).length, 2, 'two retries');
  t.equal(s.drops.arp_timeout, 4);
  t.equal(s.fate.queued, 0);
  t.equal(s.ifaces[1].arp.timeouts, 1);
  t.ok(ledger(stack));
  // A late reply is not needed any more; a new packet starts resolution again and B answers.
  b.arp = true;
  a.ping(R_MAC[0], ip('10.0.1.20'));
  fx.pump();
  t.equal(b.take().filter((p) => p.ethertype === 0x0800).length, 1);
  t.ok(ledger(stack));
});

t.test('VLAN sub-interfaces: tag added and removed in place, per-VLAN stacks', async (t) => {
  const [r0, h0] = memoryPair('r0', R_MAC[0], 'h0', A_MAC);
  const [r1, h1] = memoryPair('r1', R_MAC[1], 'h1', B_MAC);
  const now = { t: 5000 };
  const stack = new Stack({
    ifaces: [
      { name: 'eth0', link: 0, mac: R_MAC[0], address: ip('10.0.0.1'), netmask: ip('255.255.255.0'), vlan: null },
      { name: 'v10', link: 1, mac: R_MAC[1], address: ip('10.0.10.1'), netmask: ip('255.255.255.0'), vlan: 10 },
      { name: 'v20', link: 1, mac: R_MAC[1], address: ip('10.0.20.1'), netmask: ip('255.255.255.0'), vlan: 20 },
    ],
    routes: [
      { net: ip('10.0.0.0'), prefix: 24, nexthop: 0, iface: 0 },
      { net: ip('10.0.10.0'), prefix: 24, nexthop: 0, iface: 1 },
      { net: ip('10.0.20.0'), prefix: 24, nexthop: 0, iface: 2 },
    ],
    sendTimeExceeded: true, hooks: acceptAllHooks(3), clock: () => now.t,
  }, [r0, r1]);
  const a = new Host(h0, A_MAC, ip('10.0.0.10'));
  const b = new Host(h1, B_MAC, ip('10.0.10.20'));
  b.vlan = 10;
  const pump = (): number => pumpAll([r0, r1, h0, h1]);
  stack.start(); pump();
  const gr = b.take();
  t.same(gr.map((p) => p.vlan).sort(), [10, 20], 'gratuitous ARP tagged per sub-interface');

  a.ping(R_MAC[0], ip('10.0.10.20'), { id: 3 });
  pump();
  let got = b.take();
  const fwd = got.filter((p) => p.ethertype === 0x0800);
  t.equal(fwd.length, 1, 'forwarded untagged -> VLAN 10');
  t.equal(fwd[0].vlan, 10); t.equal(ipv4(fwd[0]).ttl, 63); t.ok(ipValid(fwd[0]));
  t.ok(got.filter((p) => p.ethertype === 0x0806).every((p) => p.vlan === 10), 'ARP on VLAN 10');

  b.ping(R_MAC[1], ip('10.0.0.10'), { id: 4 });
  pump();
  got = a.take().filter((p) => p.ethertype === 0x0800);
  t.equal(got.length, 1, 'forwarded VLAN 10 -> untagged');
  t.equal(got[0].vlan, -1); t.equal(got[0].l3, 14); t.equal(ipv4(got[0]).totalLen, 44); t.ok(ipValid(got[0]));

  b.ping(R_MAC[1], ip('10.0.10.1'), { id: 5 });
  pump();
  got = b.take().filter((p) => p.ethertype === 0x0800);
  t.equal(got.length, 1); t.equal(got[0].vlan, 10); t.equal(ipv4(got[0]).saddr, ip('10.0.10.1'));

  // 10.0.20.1 belongs to VLAN 20's stack: asked on VLAN 10 it is routed, not local to v10.
  b.arpRequest(ip('10.0.20.1'));
  pump();
  t.equal(b.take().filter((p) => p.ethertype === 0x0806).length, 0, 'v10 does not answer ARP for v20');

  b.vlan = 30;
  b.ping(R_MAC[1], ip('10.0.10.1'));
  pump();
  t.equal(stack.snapshot().unattributed.vlan_unknown, 1, 'unknown VLAN counted');
  t.ok(ledger(stack));
});

t.test('hooks: order, Pkt fields, drops by chain, atomic swap keeps tables', async (t) => {
  const calls: string[] = [];
  const rec = (name: string, verdict = (_p: Pkt): number => ACCEPT) => (p: Pkt): number => {
    calls.push(`${name}:h${p.hook}:in${p.inIf}:out${p.outIf}:${formatIpv4(p.saddr)}>${formatIpv4(p.daddr)}:${p.proto}:${p.sport}>${p.dport}${p.local ? ':local' : ''}`);
    return verdict(p);
  };
  const conn: ConnHooks = { track: rec('track'), local: rec('local'), finish: rec('finish') };
  const hooks: StackHooks = {
    ifaces: [0, 1].map((i) => ({ prerouting: rec(`pre${i}`), input: rec(`in${i}`), output: rec(`out${i}`), postrouting: rec(`post${i}`) })),
    forward: rec('fwd', (p) => (p.dport === 23 ? DROP : ACCEPT)),
    conn,
  };
  const fx = twoLegs({ hooks });
  const { stack, a, b } = fx;
  stack.start(); fx.pump(); a.take(); b.take();
  a.arpRequest(ip('10.0.0.1')); b.arpRequest(ip('10.0.1.1')); fx.pump(); a.take(); b.take();
  calls.length = 0;

  a.udp(R_MAC[0], ip('10.0.1.20'), 1111, 53, Buffer.from('q'));
  fx.pump();
  t.same(calls, [
    `track:h${HOOK_PREROUTING}:in0:out-1:10.0.0.10>10.0.1.20:17:1111>53`,
    `pre0:h${HOOK_PREROUTING}:in0:out-1:10.0.0.10>10.0.1.20:17:1111>53`,
    `fwd:h${HOOK_FORWARD}:in0:out1:10.0.0.10>10.0.1.20:17:1111>53`,
    `post1:h${HOOK_POSTROUTING}:in0:out1:10.0.0.10>10.0.1.20:17:1111>53`,
    `finish:h${HOOK_POSTROUTING}:in0:out1:10.0.0.10>10.0.1.20:17:1111>53`,
  ], 'forward path');
  t.equal(b.take().length, 1);

  calls.length = 0;
  a.ping(R_MAC[0], ip('10.0.0.1'), { id: 77 });
  fx.pump();
  t.same(calls, [
    `track:h${HOOK_PREROUTING}:in0:out-1:10.0.0.10>10.0.0.1:1:77>77`,
    `pre0:h${HOOK_PREROUTING}:in0:out-1:10.0.0.10>10.0.0.1:1:77>77`,
    `in0:h${HOOK_INPUT}:in0:out-1:10.0.0.10>10.0.0.1:1:77>77`,
    `local:h${HOOK_OUTPUT}:in-1:out0:10.0.0.1>10.0.0.10:1:77>77:local`,
    `out0:h${HOOK_OUTPUT}:in-1:out0:10.0.0.1>10.0.0.10:1:77>77:local`,
    `post0:h${HOOK_POSTROUTING}:in-1:out0:10.0.0.1>10.0.0.10:1:77>77:local`,
    `finish:h${HOOK_POSTROUTING}:in-1:out0:10.0.0.1>10.0.0.10:1:77>77:local`,
  ], 'local delivery and the reply');
  t.equal(a.take().length, 1);

  a.tcp(R_MAC[0], ip('10.0.1.20'), 2222, 23, 0x02);
  fx.pump();
  t.equal(b.take().length, 0);
  t.equal(stack.snapshot().drops.chain_forward, 1, 'forward chain drop counted');

  // Swap: everything drops at prerouting on eth0; ARP still works and the cache survives.
  const learned = stack.snapshot().ifaces[1].arp.learned;
  stack.setHooks({ ...acceptAllHooks(2), ifaces: [{ prerouting: () => DROP, input: ACCEPT_ALL, output: ACCEPT_ALL, postrouting: ACCEPT_ALL }, acceptAllHooks(1).ifaces[0]] });
  a.ping(R_MAC[0], ip('10.0.0.1'));
  fx.pump();
  t.equal(a.take().length, 0);
  t.equal(stack.snapshot().drops.chain_prerouting, 1);
  stack.setHooks(acceptAllHooks(2));
  a.ping(R_MAC[0], ip('10.0.1.20'));
  fx.pump();
  const after = b.take();
  t.equal(after.length, 1, 'forwarded with no new ARP request: cache survived the swap');
  t.equal(after[0].ethertype, 0x0800);
  t.equal(stack.snapshot().ifaces[1].arp.learned, learned);
  t.throws(() => stack.setHooks({ ifaces: [], forward: ACCEPT_ALL }), 'a hook set of the wrong shape is refused');
  t.ok(ledger(stack));
});

t.test('ICMP errors are rate-limited', async (t) => {
  const fx = twoLegs({ extra: { icmpRatePerSec: 1, icmpBurst: 3 } });
  fx.stack.start(); fx.pump(); fx.a.take();
  for (let i = 0; i < 10; i++) fx.a.ping(R_MAC[0], ip('172.16.0.1'), { seq: i });
  fx.pump();
  t.equal(fx.a.take().filter((p) => p.ethertype === 0x0800).length, 3, 'burst of 3');
  t.equal(fx.stack.snapshot().icmp.rateLimited, 7);
  fx.now.t += 1000;
  fx.a.ping(R_MAC[0], ip('172.16.0.1'));
  fx.pump();
  t.equal(fx.a.take().filter((p) => p.ethertype === 0x0800).length, 1, 'refilled after a second');
});

t.test('frames packed back to back: adding a VLAN tag never overwrites a neighbour frame', async (t) => {
  const [r0, h0] = memoryPair('r0', R_MAC[0], 'h0', A_MAC);
  const [r1, h1] = memoryPair('r1', R_MAC[1], 'h1', B_MAC);
  const stack = new Stack({
    ifaces: [
      { name: 'eth0', link: 0, mac: R_MAC[0], address: ip('10.0.0.1'), netmask: ip('255.255.255.0'), vlan: null },
      { name: 'v10', link: 1, mac: R_MAC[1], address: ip('10.0.10.1'), netmask: ip('255.255.255.0'), vlan: 10 },
    ],
    routes: [
      { net: ip('10.0.0.0'), prefix: 24, nexthop: 0, iface: 0 },
      { net: ip('10.0.10.0'), prefix: 24, nexthop: 0, iface: 1 },
    ],
    sendTimeExceeded: true, hooks: acceptAllHooks(2), clock: () => 1,
  }, [r0, r1]);
  const b = new Host(h1, B_MAC, ip('10.0.10.20'));
  b.vlan = 10;
  new Host(h0, A_MAC, ip('10.0.0.10'));
  stack.start();
  b.arpRequest(ip('10.0.10.1'));
  pumpAll([r0, r1, h0, h1]); b.take();
  const a = new Host(new MemoryLink('spare', A_MAC), A_MAC, ip('10.0.0.10'));
  const frames = [0, 1, 2, 3].map((i) => a.ipFrame(R_MAC[0], ip('10.0.0.10'), ip('10.0.10.20'), 17,
    Uint8Array.from([0x13, 0x88, 0x0f, 0xa0, 0, 12, 0, 0, i, i, i, i]), 64, i));
  const L = frames[0].length;
  for (const descending of [false, true]) {
    const slab = new Uint8Array(4 * L);
    const off = new Int32Array(4), len = new Int32Array(4).fill(L);
    for (let k = 0; k < 4; k++) { off[k] = (descending ? 3 - k : k) * L; slab.set(frames[k], off[k]); }
    stack.receive(0, { buf: slab, off, len, count: 4 });
    pumpAll([h1]);
    const got = b.take().filter((p) => p.ethertype === 0x0800);
    t.equal(got.length, 4, descending ? 'slab order reversed' : 'slab order');
    t.same(got.map((p) => ipv4(p).id).sort(), [0, 1, 2, 3], 'each frame intact');
    t.ok(got.every((p) => p.vlan === 10 && ipValid(p) && p.bytes[p.l3 + IP_MIN_HEADER_LEN + UDP_HEADER_LEN] === ipv4(p).id), 'tagged, valid, payload matches');
  }
  t.ok(ledger(stack));
});

t.test('an Iface without an address (DHCP): broadcast from 0.0.0.0, then setAddress announces itself', async (t) => {
  const fx = twoLegs({ ifaces: [{}, { address: 0, netmask: null }] });
  const { stack, b } = fx;
  stack.start(); fx.pump();
  t.equal(b.take().length, 0, 'no gratuitous ARP without an address');
  b.arpRequest(ip('10.0.1.1')); fx.pump();
  t.equal(b.take().length, 0, 'no ARP answers without an address');
  const replies: number[] = [];
  stack.bindUdp(68, (_b, _o, len, saddr) => { replies.push(saddr, len); });
  t.equal(stack.sendUdp(0xffffffff, 68, 67, Buffer.from('DHCPDISCOVER'), 12, 0, 1), 0);
  t.equal(stack.sendUdp(ip('10.0.1.20'), 68, 67, Buffer.from('x')), NO_ADDRESS, 'no source address without viaIf');
  fx.pump();
  const got = b.take();
  t.equal(got.length, 1);
  t.ok(Buffer.from(got[0].dst).equals(Buffer.from([255, 255, 255, 255, 255, 255])), 'link broadcast');
  t.equal(ipv4(got[0]).saddr, 0); t.equal(ipv4(got[0]).daddr, 0xffffffff); t.ok(ipValid(got[0]));
  b.udp(mac('ff:ff:ff:ff:ff:ff'), 0xffffffff, 67, 68, Buffer.from('OFFER'));
  fx.pump();
  t.same(replies, [ip('10.0.1.20'), 5], 'broadcast reply delivered to the bound port');
  stack.setAddress(1, ip('10.0.1.1'), ip('255.255.255.0'));
  fx.pump();
  const g = b.take().filter((p) => p.ethertype === 0x0806).map(arpOf);
  t.equal(g.length, 1); t.equal(g[0].spa, ip('10.0.1.1')); t.equal(g[0].tpa, ip('10.0.1.1'));
  t.ok(ledger(stack));
});
