// Conntrack on crafted frames with a controllable clock: the stateful TCP machine step by step,
// the simple tracker, UDP/ICMP/other protocols, related ICMP errors, invalid packets, table
// full, reload, growth, expiry, dump, fragments.
import t from 'tap';
import {
  Conntrack, DEFAULT_TIMEOUTS, C_INVALID_MALFORMED, C_INVALID_TCP_STATE, C_INVALID_UNRELATED_ICMP, TCP_CLOSE, TCP_ESTABLISHED, TCP_FIN_WAIT,
  TCP_LAST_ACK, TCP_SYN_RECV, TCP_SYN_SENT, TCP_TIME_WAIT,
} from '../../stack/conntrack.js';
import { ETH_HEADER_LEN } from '../../stack/wire/ethernet.js';
import { IP_MIN_HEADER_LEN } from '../../stack/wire/ipv4.js';
import { TCP_DOFF } from '../../stack/wire/tcp.js';
import { ACCEPT, DROP, DIR_ORIGINAL, DIR_REPLY } from '../../stack/wire/pkt.js';
import { CT_ESTABLISHED, CT_INVALID, CT_NEW, CT_RELATED } from '../../src/config/model.js';
import {
  ACK, Clock, FIN, ICMP, udpFragments, RST, SYN, TCP, UDP, eth, icmpEcho, icmpError, ip, ipv4, pktOf, tcpSeg, udpDgram, T0 } from './ct-helpers.js';

const C = '10.0.0.2', S = '192.168.1.9';

function tcp(src: string, dst: string, sp: number, dp: number, flags: number) {
  return pktOf(eth(ipv4({ src, dst }, TCP, tcpSeg(sp, dp, flags))));
}
function udp(src: string, dst: string, sp: number, dp: number) {
  return pktOf(eth(ipv4({ src, dst }, UDP, udpDgram(sp, dp))));
}

t.test('stateful TCP: handshake, data, teardown, states at each step, time_wait expiry', async (t) => {
  const clock = new Clock();
  const ct = new Conntrack({ statefulTcp: true }, T0);
  let p = tcp(C, S, 40000, 80, SYN);
  t.equal(ct.track(p), ACCEPT);
  const c = p.conn;
  t.ok(c >= 0);
  t.equal(p.ctState, CT_NEW);
  t.equal(p.dir, DIR_ORIGINAL);
  t.equal(ct.tcpState(c), TCP_SYN_SENT);
  t.equal(ct.finish(p), ACCEPT);
  t.equal(ct.expiry(c) - ct.now, 30, 'confirmed handshake uses the confirmed tcp timeout');

  p = tcp(C, S, 40000, 80, SYN);
  t.equal(ct.track(p), ACCEPT, 'SYN retransmission');
  t.equal(p.ctState, CT_NEW, 'still new before the reply');
  t.equal(p.conn, c);

  p = tcp(S, C, 80, 40000, SYN | ACK);
  t.equal(ct.track(p), ACCEPT);
  t.equal(p.conn, c);
  t.equal(p.dir, DIR_REPLY);
  t.equal(p.ctState, CT_ESTABLISHED, 'established once the reply direction is seen');
  t.equal(ct.tcpState(c), TCP_SYN_RECV);

  p = tcp(C, S, 40000, 80, ACK);
  t.equal(ct.track(p), ACCEPT);
  t.equal(p.ctState, CT_ESTABLISHED);
  t.equal(ct.tcpState(c), TCP_ESTABLISHED);
  t.equal(ct.expiry(c) - ct.now, 300, 'established tcp timeout');

  for (let i = 0; i < 3; i++) {
    p = tcp(S, C, 80, 40000, ACK);
    t.equal(ct.track(p), ACCEPT);
    t.equal(p.dir, DIR_REPLY);
  }
  p = tcp(C, S, 40000, 80, FIN | ACK);
  t.equal(ct.track(p), ACCEPT);
  t.equal(ct.tcpState(c), TCP_FIN_WAIT);
  t.equal(ct.expiry(c) - ct.now, 30);
  p = tcp(S, C, 80, 40000, FIN | ACK);
  t.equal(ct.track(p), ACCEPT);
  t.equal(ct.tcpState(c), TCP_LAST_ACK);
  p = tcp(C, S, 40000, 80, ACK);
  t.equal(ct.track(p), ACCEPT);
  t.equal(ct.tcpState(c), TCP_TIME_WAIT);
  t.equal(ct.expiry(c) - ct.now, 10, 'time_wait uses the short timeout');

  ct.tick(clock.advance(9));
  t.equal(ct.entries, 1);
  ct.tick(clock.advance(1));
  t.equal(ct.entries, 0, 'expired after 10 s');
  t.equal(ct.stats().expiries, 1);
  t.equal(ct.verify(), null);
});

t.test('stateful TCP: reopen after close, RST, simultaneous open', async (t) => {
  const ct = new Conntrack({ statefulTcp: true }, T0);
  let p = tcp(C, S, 1, 2, SYN);
  ct.track(p);
  const c = p.conn;
  p = tcp(S, C, 2, 1, RST | ACK);
  t.equal(ct.track(p), ACCEPT);
  t.equal(ct.tcpState(c), TCP_CLOSE);
  p = tcp(C, S, 1, 2, SYN);
  t.equal(ct.track(p), ACCEPT, 'new SYN reopens');
  t.equal(p.conn, c);
  t.equal(ct.tcpState(c), TCP_SYN_SENT);
  t.equal(p.ctState, CT_NEW);
  p = tcp(S, C, 2, 1, SYN);
  t.equal(ct.track(p), ACCEPT, 'simultaneous open');
  t.equal(ct.tcpState(c), TCP_SYN_RECV);
});

t.test('stateful TCP: invalid packets dropped and counted', async (t) => {
  const ct = new Conntrack({ statefulTcp: true }, T0);
  let p = tcp(C, S, 5, 6, ACK);
  t.equal(ct.track(p), DROP, 'mid-stream ACK without a connection');
  t.equal(p.ctState, CT_INVALID);
  t.equal(ct.entries, 0);
  p = tcp(C, S, 5, 6, ACK | PSH_FIN());
  t.equal(ct.track(p), DROP);
  t.equal(ct.counters[C_INVALID_TCP_STATE], 2);
  p = tcp(C, S, 5, 6, SYN | FIN);
  t.equal(ct.track(p), DROP, 'SYN+FIN');
  p = tcp(C, S, 5, 6, 0);
  t.equal(ct.track(p), DROP, 'null flags');
  const f = eth(ipv4({ src: C, dst: S }, TCP, tcpSeg(5, 6, SYN)));
  f[ETH_HEADER_LEN + IP_MIN_HEADER_LEN + TCP_DOFF] = 3 << 4;
  t.equal(ct.track(pktOf(f)), DROP, 'data offset < 5');
  t.equal(ct.counters[C_INVALID_MALFORMED], 3);
  p = tcp(C, S, 5, 6, SYN);
  t.equal(ct.track(p), ACCEPT);
  p = tcp(C, S, 5, 6, ACK);
  t.equal(ct.track(p), DROP, 'ACK before SYN-ACK');
  p = tcp(S, C, 6, 5, ACK);
  t.equal(ct.track(p), DROP, 'reply without SYN in syn_sent');
  t.equal(ct.stats().invalid, 7);
});

function PSH_FIN() { return FIN | 0x08; }

t.test('simple tracker: any TCP packet creates an entry; timeouts by state', async (t) => {
  const clock = new Clock();
  const ct = new Conntrack({}, T0);
  let p = tcp(C, S, 7, 8, ACK);
  t.equal(ct.track(p), ACCEPT);
  t.equal(p.ctState, CT_NEW);
  const c = p.conn;
  t.equal(ct.expiry(c) - ct.now, 10, 'unconfirmed');
  ct.tick(clock.advance(10));
  t.equal(ct.entries, 0, 'an unconfirmed entry expires after 10 s');

  p = tcp(C, S, 7, 8, ACK);
  ct.track(p);
  ct.finish(p);
  t.equal(ct.expiry(p.conn) - ct.now, 30, 'confirmed');
  p = tcp(S, C, 8, 7, ACK);
  ct.track(p);
  t.equal(p.ctState, CT_ESTABLISHED);
  t.equal(ct.expiry(p.conn) - ct.now, 300);
  ct.tick(clock.advance(299));
  t.equal(ct.entries, 1);
  p = tcp(C, S, 7, 8, ACK);
  ct.track(p);
  ct.tick(clock.advance(299));
  t.equal(ct.entries, 1, 'traffic refreshes the deadline');
  ct.tick(clock.advance(2));
  t.equal(ct.entries, 0);
});

t.test('UDP flow and custom timeouts', async (t) => {
  const clock = new Clock();
  const ct = new Conntrack({ timeout: { unconfirmed: { tcp: 5, udp: 3, icmp: 4 }, confirmed: { tcp: 6, udp: 7, icmp: 8 }, established: { tcp: 9, udp: 60, icmp: 11 } } }, T0);
  let p = udp(C, S, 5353, 53);
  t.equal(ct.track(p), ACCEPT);
  const c = p.conn;
  t.equal(ct.expiry(c) - ct.now, 3);
  ct.finish(p);
  t.equal(ct.expiry(c) - ct.now, 7);
  p = udp(S, C, 53, 5353);
  ct.track(p);
  t.equal(p.conn, c);
  t.equal(p.dir, DIR_REPLY);
  t.equal(p.ctState, CT_ESTABLISHED);
  t.equal(ct.expiry(c) - ct.now, 60);
  p = udp(C, S, 5353, 54);
  ct.track(p);
  t.not(p.conn, c, 'other port = other connection');
  ct.tick(clock.advance(59));
  t.equal(ct.entries, 1);
  ct.tick(clock.advance(1));
  t.equal(ct.entries, 0);
});

t.test('ICMP echo by identifier; other ICMP and other protocols by address pair', async (t) => {
  const ct = new Conntrack({}, T0);
  let p = pktOf(eth(ipv4({ src: C, dst: S }, ICMP, icmpEcho(8, 77, 1))));
  t.equal(ct.track(p), ACCEPT);
  const c = p.conn;
  p = pktOf(eth(ipv4({ src: C, dst: S }, ICMP, icmpEcho(8, 77, 2))));
  ct.track(p);
  t.equal(p.conn, c, 'same id, next sequence');
  p = pktOf(eth(ipv4({ src: S, dst: C }, ICMP, icmpEcho(0, 77, 2))));
  ct.track(p);
  t.equal(p.conn, c);
  t.equal(p.ctState, CT_ESTABLISHED);
  p = pktOf(eth(ipv4({ src: C, dst: S }, ICMP, icmpEcho(8, 78, 1))));
  ct.track(p);
  t.not(p.conn, c, 'other id');
  p = pktOf(eth(ipv4({ src: S, dst: C }, ICMP, icmpEcho(0, 99, 1))));
  t.equal(ct.track(p), DROP, 'unsolicited echo reply is invalid');
  t.equal(ct.counters[C_INVALID_UNRELATED_ICMP], 1);

  const gre = new Uint8Array(8);
  p = pktOf(eth(ipv4({ src: C, dst: S }, 47, gre)));
  t.equal(ct.track(p), ACCEPT, 'GRE tracked, not dropped');
  const g = p.conn;
  p = pktOf(eth(ipv4({ src: S, dst: C }, 47, gre)));
  ct.track(p);
  t.equal(p.conn, g);
  t.equal(p.ctState, CT_ESTABLISHED);
});

t.test('related: ICMP errors quoting a tracked connection', async (t) => {
  const ct = new Conntrack({}, T0);
  const out = ipv4({ src: C, dst: S }, UDP, udpDgram(5000, 6000, 40));
  let p = pktOf(eth(out));
  ct.track(p);
  ct.finish(p);
  const c = p.conn;
  p = pktOf(eth(ipv4({ src: S, dst: C }, ICMP, icmpError(3, 3, out))));
  t.equal(ct.track(p), ACCEPT);
  t.equal(p.ctState, CT_RELATED);
  t.equal(p.conn, c);
  t.equal(p.dir, DIR_REPLY);
  p = pktOf(eth(ipv4({ src: '172.16.0.1', dst: C }, ICMP, icmpError(11, 0, out))));
  t.equal(ct.track(p), ACCEPT, 'time exceeded from a router on the path');
  t.equal(p.ctState, CT_RELATED);
  t.equal(ct.entries, 1, 'errors create no entries');

  const other = ipv4({ src: C, dst: S }, UDP, udpDgram(5001, 6000));
  p = pktOf(eth(ipv4({ src: S, dst: C }, ICMP, icmpError(3, 3, other))));
  t.equal(ct.track(p), DROP, 'error about an unknown connection is invalid');
  p = pktOf(eth(ipv4({ src: S, dst: C }, ICMP, icmpError(3, 3, out, 4))));
  t.equal(ct.track(p), DROP, 'quote shorter than header + 8 bytes is malformed');

  // An error travelling in the original direction (about a reply packet).
  const back = ipv4({ src: S, dst: C }, UDP, udpDgram(6000, 5000));
  p = pktOf(eth(ipv4({ src: C, dst: S }, ICMP, icmpError(3, 3, back))));
  t.equal(ct.track(p), ACCEPT);
  t.equal(p.dir, DIR_ORIGINAL);
  t.equal(p.ctState, CT_RELATED);
});

t.test('table full fails closed, counted, rate-limited log; reload keeps entries', async (t) => {
  const logs: string[] = [];
  const clock = new Clock();
  const ct = new Conntrack({ limit: 3 }, { nowMs: 0, log: (m) => logs.push(m) });
  for (let i = 0; i < 3; i++) t.equal(ct.track(udp(C, S, 1000 + i, 53)), ACCEPT);
  for (let i = 0; i < 5; i++) {
    const p = udp(C, S, 2000 + i, 53);
    t.equal(ct.track(p), DROP);
    t.equal(p.ctState, CT_INVALID);
    t.equal(p.conn, -1);
  }
  t.equal(ct.track(udp(S, C, 53, 1000)), ACCEPT, 'existing connections still pass');
  t.equal(ct.stats().dropsFull, 5);
  t.equal(logs.length, 1, 'one log line per second');
  t.match(logs[0], /table full \(3\/3/);
  ct.tick(clock.advance(1));
  ct.track(udp(C, S, 3000, 53));
  t.equal(logs.length, 2);
  t.match(logs[1], /4 similar messages suppressed/);

  ct.configure({ limit: 10 });
  t.equal(ct.entries, 3, 'reload keeps entries');
  t.equal(ct.track(udp(C, S, 3001, 53)), ACCEPT, 'new limit applies');
  t.equal(ct.stats().limit, 10);
});

t.test('growth, clock jumps, dump, verify', async (t) => {
  const clock = new Clock();
  const ct = new Conntrack({ reserve: 100, timeout: { ...DEFAULT_TIMEOUTS, confirmed: { tcp: 30, udp: 30, icmp: 10 } } }, T0);
  t.equal(ct.capacity, 1024);
  let accepted = 0;
  for (let i = 0; i < 5000; i++) {
    const p = udp(C, S, 1 + i, 53);
    if (ct.track(p) === ACCEPT) accepted++;
    if (i % 2 === 0) ct.finish(p);
  }
  t.equal(accepted, 5000);
  t.ok(ct.capacity >= 5000);
  t.equal(ct.entries, 5000);
  t.equal(ct.verify(), null);
  const d = ct.dump(2);
  t.equal(d.length, 2);
  t.same(Object.keys(d[0]).sort(), ['confirmed', 'dnat', 'expiresInS', 'id', 'original', 'proto', 'reply', 'snat', 'state', 'tcpState'].sort());
  t.equal(d[0].original.dst, S);
  t.equal(d[0].reply.src, S);
  ct.tick(clock.advance(10));
  t.equal(ct.entries, 2500, 'unconfirmed expired at 10 s, confirmed live');
  ct.tick(clock.advance(5000));
  t.equal(ct.entries, 0, 'a jump past the wheel size expires everything');
  t.equal(ct.verify(), null);
  t.equal(ct.stats().expiries, 5000);
  const big = new Conntrack({ reserve: 3000, statefulTcp: true }, T0);
  t.ok(big.capacity >= 3000, 'reserve pre-sizes');
  t.equal(big.dump().length, 0);
  t.equal(ip(S) >>> 0, ip(S));
});

t.test('fragments follow the connection of their first fragment', async (t) => {
  const ct = new Conntrack({}, T0);
  const [f1, f2] = udpFragments({ src: C, dst: S, id: 4242 }, 7000, 53, 100, 48);
  const p1 = pktOf(f1);
  t.equal(p1.frag, false);
  t.equal(ct.track(p1), ACCEPT);
  const p2 = pktOf(f2);
  t.equal(p2.frag, true);
  t.equal(ct.track(p2), ACCEPT);
  t.equal(p2.conn, p1.conn);
  t.equal(p2.dir, DIR_ORIGINAL);
  const [, g2] = udpFragments({ src: C, dst: S, id: 4243 }, 7000, 53, 100, 48);
  t.equal(ct.track(pktOf(g2)), DROP, 'a fragment ahead of its first fragment is dropped');
  t.equal(ct.entries, 1);
});
