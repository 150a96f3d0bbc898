// NAT on crafted frames: dnat/snat in every form, the seed's port forward, masquerade pools,
// ICMP errors through NAT, partial (GSO) checksums, fragments, clashes, reload; every rewritten
// frame is checked here and by tshark from a pcap.
import t, { type Test } from 'tap';
import { Conntrack, C_INVALID_CLASH, TCP_ESTABLISHED } from '../../stack/conntrack.js';
import { NatEngine, PortPool } from '../../stack/nat.js';
import { ACCEPT, DROP, DIR_ORIGINAL, DIR_REPLY, type Pkt } from '../../stack/wire/pkt.js';
import { CT_ESTABLISHED, CT_NEW, CT_RELATED } from '../../src/config/model.js';
import { ETH_HEADER_LEN } from '../../stack/wire/ethernet.js';
import { ICMP_CSUM } from '../../stack/wire/icmp.js';
import { IP_CSUM, IP_MIN_HEADER_LEN } from '../../stack/wire/ipv4.js';
import { TCP_CSUM } from '../../stack/wire/tcp.js';
import { UDP_CSUM } from '../../stack/wire/udp.js';
import { rd16, wr16 } from '../../stack/wire/view.js';
import {
  ACK, Clock, ICMP, PcapWriter, SYN, TCP, UDP, eth, icmpEcho, icmpError, ip, ipStr, ipv4, makePartial, mirrorsMatch, partialOk,
  pktOf, tcpSeg, tmpPcap, udpFragments, tsharkCheck, udpDgram, verifyFrame, T0 } from './ct-helpers.js';

const OUT = 0, IN = 1;
const OUT_ADDR = '10.0.0.45', IN_ADDR = '192.168.0.1';
const SERVER = '192.168.0.54', CLIENT = '10.0.0.2', REMOTE = '8.8.8.8';

const pcap = new PcapWriter(tmpPcap('nat'));
const partialFrames: Uint8Array[] = [];

type Hook = ((p: Pkt) => void) | null;

/** One pass through the router: track, prerouting hook, route (outIf), postrouting hook, finish. */
function pass(nat: NatEngine, frame: Uint8Array, inIf: number, outIf: number, pre: Hook = null, post: Hook = null, partial = false): { v: number; p: Pkt } {
  const p = pktOf(frame, { inIf, csumPartial: partial });
  let v = nat.track(p);
  if (v === ACCEPT) {
    if (pre) pre(p);
    p.outIf = outIf;
    if (post) post(p);
    v = nat.finish(p);
  }
  if (v === ACCEPT) {
    if (partial) partialFrames.push(frame);
    else pcap.write(frame, 0, frame.length);
  }
  return { v, p };
}

/** The frame's addresses and ports (echo id) as its bytes say. */
function tuple(f: Uint8Array): string {
  const p = pktOf(f);
  const s = ipStr(p.saddr), d = ipStr(p.daddr);
  if (p.proto === TCP || p.proto === UDP) return `${s}:${p.sport}>${d}:${p.dport}`;
  if (p.proto === ICMP) return `${s}>${d} id ${p.sport}`;
  return `${s}>${d}`;
}

/** Offset of a UDP/TCP/ICMP header field in a frame from eth(ipv4(...)). */
const L4 = ETH_HEADER_LEN + IP_MIN_HEADER_LEN;

/** Masquerade tests here exercise the pool: port preservation is off unless asked for. */
function natWith(masq = false, range?: [number, number], statefulTcp = false, preservePorts = false) {
  const ct = new Conntrack({ statefulTcp }, T0);
  const nat = new NatEngine(ct, { ifaces: [{ address: ip(OUT_ADDR), masquerade: masq }, { address: ip(IN_ADDR), masquerade: false }], portRange: range, preservePorts });
  return { ct, nat };
}

function checkFrame(t: Test, f: Uint8Array, p: Pkt, msg: string) {
  t.same(verifyFrame(f), [], `${msg}: checksums`);
  t.ok(mirrorsMatch(p), `${msg}: mirrors`);
}

t.test('DNAT: dnat(addr), dnat(port), dnat(addr, port); replies un-DNATed', async (t) => {
  const { nat } = natWith();
  // dnat(addr)
  let f = eth(ipv4({ src: CLIENT, dst: OUT_ADDR }, TCP, tcpSeg(40000, 5001, SYN)));
  let r = pass(nat, f, OUT, IN, (p) => nat.dnat(p, ip(SERVER), -1));
  t.equal(r.v, ACCEPT);
  t.equal(tuple(f), `${CLIENT}:40000>${SERVER}:5001`);
  checkFrame(t, f, r.p, 'dnat(addr)');
  f = eth(ipv4({ src: SERVER, dst: CLIENT }, TCP, tcpSeg(5001, 40000, SYN | ACK)));
  r = pass(nat, f, IN, OUT);
  t.equal(r.p.dir, DIR_REPLY);
  t.equal(tuple(f), `${OUT_ADDR}:5001>${CLIENT}:40000`, 'reply source restored');
  checkFrame(t, f, r.p, 'reply');
  f = eth(ipv4({ src: CLIENT, dst: OUT_ADDR }, TCP, tcpSeg(40000, 5001, ACK, 1001, 1, 100)));
  r = pass(nat, f, OUT, IN);
  t.equal(tuple(f), `${CLIENT}:40000>${SERVER}:5001`, 'later packets translated at track()');
  t.equal(r.p.ctState, CT_ESTABLISHED);

  // dnat(port)
  f = eth(ipv4({ src: CLIENT, dst: SERVER }, TCP, tcpSeg(40001, 8080, SYN)));
  r = pass(nat, f, OUT, IN, (p) => nat.dnat(p, -1, 80));
  t.equal(tuple(f), `${CLIENT}:40001>${SERVER}:80`);
  checkFrame(t, f, r.p, 'dnat(port)');
  f = eth(ipv4({ src: SERVER, dst: CLIENT }, TCP, tcpSeg(80, 40001, SYN | ACK)));
  pass(nat, f, IN, OUT);
  t.equal(tuple(f), `${SERVER}:8080>${CLIENT}:40001`);

  // dnat(addr, port) on UDP, done in the postrouting chain (any hook works)
  f = eth(ipv4({ src: CLIENT, dst: OUT_ADDR }, UDP, udpDgram(5353, 53)));
  r = pass(nat, f, OUT, IN, null, (p) => nat.dnat(p, ip('192.168.0.53'), 5300));
  t.equal(tuple(f), `${CLIENT}:5353>192.168.0.53:5300`);
  checkFrame(t, f, r.p, 'dnat(addr, port)');
  f = eth(ipv4({ src: '192.168.0.53', dst: CLIENT }, UDP, udpDgram(5300, 5353)));
  r = pass(nat, f, IN, OUT);
  t.equal(tuple(f), `${OUT_ADDR}:53>${CLIENT}:5353`);
  checkFrame(t, f, r.p, 'udp reply');
  t.equal(nat.stats().dnat, 3);
});

t.test('SNAT: snat(addr) keeps the port unless it clashes; snat(port); snat(addr, port)', async (t) => {
  const { nat, ct } = natWith();
  const snatOut = (p: Pkt) => nat.snat(p, ip(OUT_ADDR), -1);
  let f = eth(ipv4({ src: SERVER, dst: REMOTE }, UDP, udpDgram(3333, 53)));
  let r = pass(nat, f, IN, OUT, null, snatOut);
  t.equal(tuple(f), `${OUT_ADDR}:3333>${REMOTE}:53`, 'source port kept');
  checkFrame(t, f, r.p, 'snat');
  f = eth(ipv4({ src: '192.168.0.55', dst: REMOTE }, UDP, udpDgram(3333, 53)));
  r = pass(nat, f, IN, OUT, null, snatOut);
  const port2 = r.p.sport;
  t.not(port2, 3333, 'clash: another port picked');
  t.ok(port2 >= 1024);
  t.equal(r.p.saddr, ip(OUT_ADDR));
  checkFrame(t, f, r.p, 'snat clash');
  t.equal(ct.verify(), null);

  f = eth(ipv4({ src: REMOTE, dst: OUT_ADDR }, UDP, udpDgram(53, 3333)));
  r = pass(nat, f, OUT, IN);
  t.equal(tuple(f), `${REMOTE}:53>${SERVER}:3333`);
  checkFrame(t, f, r.p, 'un-snat');
  f = eth(ipv4({ src: REMOTE, dst: OUT_ADDR }, UDP, udpDgram(53, port2)));
  r = pass(nat, f, OUT, IN);
  t.equal(tuple(f), `${REMOTE}:53>192.168.0.55:3333`);

  f = eth(ipv4({ src: SERVER, dst: REMOTE }, TCP, tcpSeg(4444, 443, SYN)));
  r = pass(nat, f, IN, OUT, null, (p) => nat.snat(p, -1, 2222));
  t.equal(tuple(f), `${SERVER}:2222>${REMOTE}:443`, 'snat(port)');
  checkFrame(t, f, r.p, 'snat(port)');
  f = eth(ipv4({ src: SERVER, dst: REMOTE }, TCP, tcpSeg(4445, 443, SYN)));
  r = pass(nat, f, IN, OUT, (p) => nat.snat(p, ip(OUT_ADDR), 2223));
  t.equal(tuple(f), `${OUT_ADDR}:2223>${REMOTE}:443`, 'snat(addr, port) from prerouting, applied at finish');
  f = eth(ipv4({ src: REMOTE, dst: OUT_ADDR }, TCP, tcpSeg(443, 2223, SYN | ACK)));
  r = pass(nat, f, OUT, IN);
  t.equal(tuple(f), `${REMOTE}:443>${SERVER}:4445`);
  checkFrame(t, f, r.p, 'reply');

  // Bindings are fixed once the reply was seen: a late snat() is ignored.
  f = eth(ipv4({ src: SERVER, dst: REMOTE }, TCP, tcpSeg(4445, 443, ACK)));
  r = pass(nat, f, IN, OUT, (p) => nat.snat(p, ip('1.2.3.4'), 9));
  t.equal(tuple(f), `${OUT_ADDR}:2223>${REMOTE}:443`);
  t.equal(nat.stats().ignored, 1);
});

t.test('seed port forward: outside:5001 -> 192.168.0.54:5001, source -> 192.168.0.1 (stateful TCP)', async (t) => {
  const { nat, ct } = natWith(false, undefined, true);
  const pre = (p: Pkt) => { if (p.daddr === ip(OUT_ADDR) && p.dport === 5001) nat.dnat(p, ip(SERVER), -1); };
  const post = (p: Pkt) => { if (p.outIf === IN && p.ctState === CT_NEW && p.daddr === ip(SERVER)) nat.snat(p, ip(IN_ADDR), -1); };
  let f = eth(ipv4({ src: CLIENT, dst: OUT_ADDR }, TCP, tcpSeg(40000, 5001, SYN, 100)));
  let r = pass(nat, f, OUT, IN, pre, post);
  t.equal(r.v, ACCEPT);
  t.equal(r.p.ctState, CT_NEW);
  t.equal(tuple(f), `${IN_ADDR}:40000>${SERVER}:5001`);
  checkFrame(t, f, r.p, 'syn');
  const c = r.p.conn;
  t.same(ct.dump()[0].reply, { src: SERVER, dst: IN_ADDR, sport: 5001, dport: 40000 });

  f = eth(ipv4({ src: SERVER, dst: IN_ADDR }, TCP, tcpSeg(5001, 40000, SYN | ACK, 500, 101)));
  r = pass(nat, f, IN, OUT, pre, post);
  t.equal(r.p.conn, c);
  t.equal(r.p.ctState, CT_ESTABLISHED);
  t.equal(tuple(f), `${OUT_ADDR}:5001>${CLIENT}:40000`);
  checkFrame(t, f, r.p, 'syn-ack');

  f = eth(ipv4({ src: CLIENT, dst: OUT_ADDR }, TCP, tcpSeg(40000, 5001, ACK, 101, 501, 200)));
  r = pass(nat, f, OUT, IN, pre, post);
  t.equal(tuple(f), `${IN_ADDR}:40000>${SERVER}:5001`);
  t.equal(ct.tcpState(c), TCP_ESTABLISHED);
  checkFrame(t, f, r.p, 'ack+data');

  // GSO super-frame with a partial checksum through the same connection.
  f = eth(ipv4({ src: CLIENT, dst: OUT_ADDR }, TCP, tcpSeg(40000, 5001, ACK, 301, 501, 20000)));
  makePartial(f);
  r = pass(nat, f, OUT, IN, pre, post, true);
  t.equal(tuple(f), `${IN_ADDR}:40000>${SERVER}:5001`);
  t.ok(partialOk(f), 'partial checksum = pseudo-header sum of the rewritten header');
  t.same(verifyFrame(f).filter((x) => x.startsWith('ip')), [], 'ip checksum');
  f = eth(ipv4({ src: SERVER, dst: IN_ADDR }, TCP, tcpSeg(5001, 40000, ACK, 501, 20301, 30000)));
  makePartial(f);
  pass(nat, f, IN, OUT, pre, post, true);
  t.equal(tuple(f), `${OUT_ADDR}:5001>${CLIENT}:40000`);
  t.ok(partialOk(f), 'partial checksum on the reply');

  // Port unreachable-style error from the server about a reply-direction... about its own
  // received segment: quoted = packet as the server saw it (SNAT+DNAT applied).
  const seen = ipv4({ src: IN_ADDR, dst: SERVER }, TCP, tcpSeg(40000, 5001, ACK, 101, 501));
  f = eth(ipv4({ src: SERVER, dst: IN_ADDR }, ICMP, icmpError(3, 3, seen, 20)));
  r = pass(nat, f, IN, OUT);
  t.equal(r.v, ACCEPT);
  t.equal(r.p.ctState, CT_RELATED);
  t.equal(r.p.saddr, ip(OUT_ADDR), 'outer source: the server appears as the outside address');
  t.equal(r.p.daddr, ip(CLIENT));
  const inner = f.subarray(14 + 28);
  t.equal(tuple(eth(inner.slice())), `${CLIENT}:40000>${OUT_ADDR}:5001`, 'quoted header is what the client sent');
  checkFrame(t, f, r.p, 'icmp error');
});

t.test('masquerade: pool ports, exhaustion fails closed, reuse after expiry; echo ids', async (t) => {
  const clock = new Clock();
  const { nat, ct } = natWith(true, [40000, 40003]);
  const used = new Set<number>();
  for (let i = 0; i < 4; i++) {
    const f = eth(ipv4({ src: `192.168.0.${10 + i}`, dst: REMOTE }, UDP, udpDgram(5000, 53)));
    const r = pass(nat, f, IN, OUT);
    t.equal(r.v, ACCEPT);
    t.equal(r.p.saddr, ip(OUT_ADDR));
    t.ok(r.p.sport >= 40000 && r.p.sport <= 40003);
    used.add(r.p.sport);
    checkFrame(t, f, r.p, `masq ${i}`);
  }
  t.equal(used.size, 4, 'distinct pool ports');
  let f = eth(ipv4({ src: '192.168.0.20', dst: REMOTE }, UDP, udpDgram(5000, 53)));
  let r = pass(nat, f, IN, OUT);
  t.equal(r.v, DROP, 'pool exhausted: dropped');
  t.equal(nat.stats().poolExhausted, 1);
  t.equal(ct.entries, 4, 'the half-made connection is removed');

  const port0 = [...used][0];
  f = eth(ipv4({ src: REMOTE, dst: OUT_ADDR }, UDP, udpDgram(53, port0)));
  r = pass(nat, f, OUT, IN);
  t.equal(r.p.dir, DIR_REPLY);
  t.equal(r.p.dport, 5000);
  t.ok(ip('192.168.0.10') <= r.p.daddr && r.p.daddr <= ip('192.168.0.13'));
  checkFrame(t, f, r.p, 'de-masquerade');

  f = eth(ipv4({ src: SERVER, dst: '192.168.0.99' }, UDP, udpDgram(5000, 53)));
  r = pass(nat, f, IN, IN);
  t.equal(tuple(f), `${SERVER}:5000>192.168.0.99:53`, 'no masquerade on a non-masquerade Iface');

  ct.tick(clock.advance(11));
  t.equal(ct.entries, 0);
  t.equal(nat.stats().pools[0].free, 4, 'ports returned to the pool on expiry');
  f = eth(ipv4({ src: '192.168.0.20', dst: REMOTE }, UDP, udpDgram(5000, 53)));
  r = pass(nat, f, IN, OUT);
  t.equal(r.v, ACCEPT, 'a returned port is reused');
  t.ok(used.has(r.p.sport));

  // ICMP echo: the identifier comes from the ICMP pool.
  f = eth(ipv4({ src: SERVER, dst: REMOTE }, ICMP, icmpEcho(8, 7)));
  r = pass(nat, f, IN, OUT);
  const id = r.p.sport;
  t.ok(id >= 40000 && id <= 40003);
  t.equal(r.p.saddr, ip(OUT_ADDR));
  checkFrame(t, f, r.p, 'echo masq');
  f = eth(ipv4({ src: REMOTE, dst: OUT_ADDR }, ICMP, icmpEcho(0, id)));
  r = pass(nat, f, OUT, IN);
  t.equal(tuple(f), `${REMOTE}>${SERVER} id 7`);
  checkFrame(t, f, r.p, 'echo reply');

  // UDP without checksum keeps 0.
  f = eth(ipv4({ src: SERVER, dst: REMOTE }, UDP, udpDgram(6000, 53)));
  wr16(f, L4 + UDP_CSUM, 0);
  r = pass(nat, f, IN, OUT);
  t.equal(rd16(f, L4 + UDP_CSUM), 0, 'udp checksum 0 stays 0');
  t.same(verifyFrame(f), []);
});

t.test('masquerade keeps the source port when the translated tuple is free, else takes a pool port', async (t) => {
  const { nat, ct } = natWith(true, [40000, 40001], false, true);
  // Far more flows than the pool holds: each keeps its own port.
  for (let i = 0; i < 50; i++) {
    const f = eth(ipv4({ src: '192.168.0.10', dst: REMOTE }, UDP, udpDgram(20000 + i, 53)));
    const r = pass(nat, f, IN, OUT);
    t.equal(r.v, ACCEPT);
    t.equal(r.p.saddr, ip(OUT_ADDR));
    t.equal(r.p.sport, 20000 + i, `flow ${i} keeps its port`);
    checkFrame(t, f, r.p, `preserved ${i}`);
  }
  // Another host using the same source port towards the same destination clashes: pool port.
  let f = eth(ipv4({ src: '192.168.0.11', dst: REMOTE }, UDP, udpDgram(20000, 53)));
  let r = pass(nat, f, IN, OUT);
  t.equal(r.v, ACCEPT);
  t.ok(r.p.sport === 40000 || r.p.sport === 40001, `clash resolved from the pool (${r.p.sport})`);
  const clashPort = r.p.sport;
  // Replies reach the right host.
  f = eth(ipv4({ src: REMOTE, dst: OUT_ADDR }, UDP, udpDgram(53, 20000)));
  r = pass(nat, f, OUT, IN);
  t.equal(r.p.daddr, ip('192.168.0.10'));
  t.equal(r.p.dport, 20000);
  f = eth(ipv4({ src: REMOTE, dst: OUT_ADDR }, UDP, udpDgram(53, clashPort)));
  r = pass(nat, f, OUT, IN);
  t.equal(r.p.daddr, ip('192.168.0.11'));
  t.equal(r.p.dport, 20000);
  t.equal(ct.entries, 51);
  t.equal(nat.stats().poolExhausted, 0);
});

t.test('traceroute through masquerade: time exceeded gets its quoted header translated', async (t) => {
  const { nat } = natWith(true);
  const probe = eth(ipv4({ src: SERVER, dst: REMOTE, ttl: 1 }, UDP, udpDgram(33434, 33435, 24)));
  const r0 = pass(nat, probe, IN, OUT);
  const mport = r0.p.sport;
  t.equal(r0.p.saddr, ip(OUT_ADDR));
  // The hop after the router answers with the probe as it saw it.
  const seen = probe.slice(14);
  const f = eth(ipv4({ src: '10.0.0.254', dst: OUT_ADDR }, ICMP, icmpError(11, 0, seen, 32)));
  const r = pass(nat, f, OUT, IN);
  t.equal(r.v, ACCEPT);
  t.equal(r.p.ctState, CT_RELATED);
  t.equal(r.p.dir, DIR_REPLY);
  t.equal(r.p.daddr, ip(SERVER), 'outer destination = inside host');
  t.equal(r.p.saddr, ip('10.0.0.254'), 'the hop keeps its own address');
  const inner = eth(f.slice(14 + 28));
  t.equal(tuple(inner), `${SERVER}:33434>${REMOTE}:33435`, 'quoted header as the inside host sent it');
  t.not(mport, 33434);
  checkFrame(t, f, r.p, 'time exceeded');
  const dv = new DataView(f.buffer);
  t.not(dv.getUint16(14 + 28 + 20 + 6), 0, 'quoted UDP checksum kept (and updated)');

  // Error about echo through masquerade.
  const echo = eth(ipv4({ src: SERVER, dst: REMOTE, ttl: 1 }, ICMP, icmpEcho(8, 4242)));
  pass(nat, echo, IN, OUT);
  const f2 = eth(ipv4({ src: '10.0.0.254', dst: OUT_ADDR }, ICMP, icmpError(11, 0, echo.slice(14))));
  const r2 = pass(nat, f2, OUT, IN);
  t.equal(r2.p.ctState, CT_RELATED);
  t.equal(tuple(eth(f2.slice(14 + 28))), `${SERVER}>${REMOTE} id 4242`);
  checkFrame(t, f2, r2.p, 'time exceeded (echo)');
});

t.test('fragmented UDP through masquerade: ports in the first fragment, addresses in all', async (t) => {
  const { nat } = natWith(true);
  const [f1, f2] = udpFragments({ src: SERVER, dst: REMOTE, id: 999 }, 7777, 53, 120, 64);
  const r1 = pass(nat, f1, IN, OUT);
  t.equal(r1.v, ACCEPT);
  t.equal(r1.p.saddr, ip(OUT_ADDR));
  const mport = r1.p.sport;
  t.not(mport, 7777);
  const r2 = pass(nat, f2, IN, OUT);
  t.equal(r2.v, ACCEPT, 'second fragment follows');
  t.equal(r2.p.saddr, ip(OUT_ADDR));
  t.same(verifyFrame(f2).filter((x) => x.startsWith('ip')), [], 'ip checksum of the tail fragment');
  // tshark reassembles the two fragments and checks the UDP checksum over the whole datagram.
  const [g1, g2] = udpFragments({ src: REMOTE, dst: OUT_ADDR, id: 1000 }, 53, mport, 80, 32);
  t.equal(pass(nat, g1, OUT, IN).v, ACCEPT);
  const q2 = pass(nat, g2, OUT, IN);
  t.equal(q2.v, ACCEPT);
  t.equal(q2.p.daddr, ip(SERVER), 'reply tail fragment de-masqueraded');
  t.equal(tuple(g1), `${REMOTE}:53>${SERVER}:7777`);
});

t.test('NAT clash fails closed at finish; original direction flags', async (t) => {
  const { nat, ct } = natWith();
  let f = eth(ipv4({ src: SERVER, dst: REMOTE }, UDP, udpDgram(1, 2)));
  let r = pass(nat, f, IN, OUT, null, (p) => nat.snat(p, ip(OUT_ADDR), 7000));
  t.equal(r.v, ACCEPT);
  f = eth(ipv4({ src: '192.168.0.77', dst: REMOTE }, UDP, udpDgram(1, 2)));
  r = pass(nat, f, IN, OUT, null, (p) => nat.snat(p, ip(OUT_ADDR), 7000));
  t.equal(r.v, DROP, 'explicit port already bound for that peer');
  t.equal(nat.stats().clashes, 1);
  t.equal(ct.entries, 1);
  t.equal(r.p.dir, DIR_ORIGINAL);
  t.equal(ct.verify(), null);
});

t.test('reload: the same Conntrack and NatEngine keep bindings and pools across configure()', async (t) => {
  const { nat, ct } = natWith(true, [45000, 45009]);
  const f = eth(ipv4({ src: SERVER, dst: REMOTE }, UDP, udpDgram(1234, 53)));
  const r = pass(nat, f, IN, OUT);
  const mport = r.p.sport;
  ct.configure({ limit: 100, timeout: { unconfirmed: { tcp: 10, udp: 20, icmp: 10 }, confirmed: { tcp: 30, udp: 20, icmp: 10 }, established: { tcp: 300, udp: 20, icmp: 10 } } });
  nat.configure({ ifaces: [{ address: ip(OUT_ADDR), masquerade: true }, { address: ip(IN_ADDR), masquerade: false }], portRange: [45000, 45009] });
  const g = eth(ipv4({ src: REMOTE, dst: OUT_ADDR }, UDP, udpDgram(53, mport)));
  const q = pass(nat, g, OUT, IN);
  t.equal(q.v, ACCEPT);
  t.equal(tuple(g), `${REMOTE}:53>${SERVER}:1234`, 'binding survived the reload');
  t.equal(ct.expiry(q.p.conn) - ct.now, 20, 'new timeouts apply to later packets');
  t.throws(() => nat.configure({ ifaces: [], portRange: [1, 2] }), /port range/, 'pool range cannot change under live ports');
});

t.test('a packet mimicking the untranslated reply of a NATed connection gets no entry', async (t) => {
  const { nat, ct } = natWith();
  const f = eth(ipv4({ src: CLIENT, dst: OUT_ADDR }, TCP, tcpSeg(40000, 5001, SYN)));
  pass(nat, f, OUT, IN, (p) => nat.dnat(p, ip(SERVER), -1));
  const g = eth(ipv4({ src: OUT_ADDR, dst: CLIENT }, TCP, tcpSeg(5001, 40000, SYN | ACK)));
  const r = pass(nat, g, IN, OUT);
  t.equal(r.v, DROP, 'its reply key would be the connection\'s original key');
  t.equal(ct.counters[C_INVALID_CLASH], 1);
  t.equal(ct.entries, 1);
  t.equal(ct.verify(), null);
});

t.test('PortPool FIFO and double-put guard', async (t) => {
  const pool = new PortPool(100, 102);
  const a = pool.take(), b = pool.take(), c = pool.take();
  t.same([a, b, c].sort(), [100, 101, 102]);
  t.equal(pool.take(), -1);
  pool.put(b);
  pool.put(b);
  t.equal(pool.count, 1);
  t.equal(pool.take(), b);
  pool.put(5);
  t.equal(pool.count, 0);
});

t.test('every rewritten frame passes tshark checksum validation', async (t) => {
  pcap.close();
  const res = tsharkCheck(pcap.path);
  t.equal(res.frames, pcap.frames);
  t.ok(res.frames > 30, `${res.frames} frames`);
  t.same(res.bad, [], 'no bad checksum, no malformed packet');
  for (const f of partialFrames) t.ok(partialOk(f));
});

t.test('the tshark check itself catches bad checksums', async (t) => {
  const w = new PcapWriter(tmpPcap('sanity'));
  const good = eth(ipv4({ src: SERVER, dst: REMOTE }, UDP, udpDgram(1, 2)));
  const badUdp = good.slice(); badUdp[L4 + UDP_CSUM + 1] ^= 1;
  const badTcp = eth(ipv4({ src: SERVER, dst: REMOTE }, TCP, tcpSeg(1, 2, SYN))); badTcp[L4 + TCP_CSUM + 1] ^= 1;
  const badIp = good.slice(); badIp[ETH_HEADER_LEN + IP_CSUM + 1] ^= 1;
  const badIcmp = eth(ipv4({ src: SERVER, dst: REMOTE }, ICMP, icmpEcho(8, 1))); badIcmp[L4 + ICMP_CSUM + 1] ^= 1;
  for (const f of [good, badUdp, badTcp, badIp, badIcmp]) w.write(f, 0, f.length);
  w.close();
  const res = tsharkCheck(w.path);
  t.equal(res.frames, 5);
  t.equal(res.bad.length, 4);
});
