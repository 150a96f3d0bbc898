// The layer-4 load balancer: round robin over the pool with full NAT both ways, session_limit,
// sessions ending with their connection, Model wiring and reload.
import t from 'tap';
import { Conntrack } from '../../stack/conntrack.js';
import { LoadBalancer } from '../../stack/lb.js';
import { NatEngine } from '../../stack/nat.js';
import { balancersFromModel } from '../../src/wiring.js';
import { ACCEPT, DROP, DIR_REPLY, type Pkt } from '../../stack/wire/pkt.js';
import { CT_ESTABLISHED } from '../../src/config/model.js';
import type { Model } from '../../src/config/model.js';
import { ACK, Clock, PcapWriter, RST, SYN, TCP, eth, ip, ipStr, ipv4, pktOf, tcpSeg, tmpPcap, tsharkCheck, verifyFrame, T0 } from './ct-helpers.js';

const OUT = 0, IN = 1;
const VIP = '10.0.0.45', SADDR = '192.168.0.1';
const NODES = ['192.168.0.10', '192.168.0.11', '192.168.0.12'];

function setup(sessionLimit: number) {
  const ct = new Conntrack({ statefulTcp: true }, T0);
  const lb = new LoadBalancer({
    name: 'lb', clientsIf: OUT, vip: ip(VIP), port: 80, serversIf: IN,
    nodes: NODES.map((a) => ({ address: ip(a), port: 8080 })), sessionLimit, waitQueueLimit: 1000,
  });
  const nat = new NatEngine(ct, { ifaces: [{ address: ip(VIP), masquerade: false }, { address: ip(SADDR), masquerade: false }] }, [lb]);
  return { ct, lb, nat };
}

function pass(nat: NatEngine, f: Uint8Array, inIf: number, outIf: number): { v: number; p: Pkt } {
  const p = pktOf(f, { inIf });
  let v = nat.track(p);
  if (v === ACCEPT) {
    p.outIf = outIf;
    v = nat.finish(p);
  }
  return { v, p };
}

function client(i: number): string {
  return `10.0.${1 + (i >> 8)}.${i & 255}`;
}

t.test('300 connections spread evenly over 3 nodes, full NAT both ways; session_limit enforced', async (t) => {
  const { nat, lb, ct } = setup(300);
  const pcap = new PcapWriter(tmpPcap('lb'));
  const perNode = new Map<string, number>();
  const ports = new Set<number>();
  let badSums = 0;
  for (let i = 0; i < 300; i++) {
    const f = eth(ipv4({ src: client(i), dst: VIP }, TCP, tcpSeg(30000 + i, 80, SYN)));
    const r = pass(nat, f, OUT, IN);
    t.equal(r.v, ACCEPT) || t.bailout();
    if (r.p.saddr !== ip(SADDR) || r.p.dport !== 8080) t.fail('not full-NATed');
    perNode.set(ipStr(r.p.daddr), (perNode.get(ipStr(r.p.daddr)) ?? 0) + 1);
    ports.add(r.p.sport);
    badSums += verifyFrame(f).length;
    pcap.write(f, 0, f.length);
    // The node answers to the servers-Iface address and pool port.
    const g = eth(ipv4({ src: ipStr(r.p.daddr), dst: SADDR }, TCP, tcpSeg(8080, r.p.sport, SYN | ACK)));
    const q = pass(nat, g, IN, OUT);
    if (q.v !== ACCEPT || q.p.dir !== DIR_REPLY || q.p.ctState !== CT_ESTABLISHED) t.fail('reply not tracked');
    if (q.p.saddr !== ip(VIP) || q.p.sport !== 80 || q.p.daddr !== ip(client(i)) || q.p.dport !== 30000 + i) t.fail('reply not translated back');
    badSums += verifyFrame(g).length;
    pcap.write(g, 0, g.length);
  }
  t.same([...perNode.entries()].sort(), NODES.map((n) => [n, 100]), 'round robin: 100 each');
  t.equal(ports.size, 300, 'one pool port per session');
  t.equal(badSums, 0);
  t.equal(lb.active, 300);

  const f = eth(ipv4({ src: client(300), dst: VIP }, TCP, tcpSeg(40000, 80, SYN)));
  const r = pass(nat, f, OUT, IN);
  t.equal(r.v, DROP, 'session 301 refused');
  t.equal(lb.refused, 1);
  t.equal(ct.entries, 300);
  const st = lb.stats();
  t.same(st.nodes.map((n) => [n.active, n.total]), [[100, 100], [100, 100], [100, 100]]);
  t.equal(st.refused, 1);
  t.equal(nat.stats().lbNew, 300);

  pcap.close();
  const res = tsharkCheck(pcap.path);
  t.equal(res.frames, 600);
  t.same(res.bad, []);
});

t.test('sessions end with their connection; non-SYN and other ports are not balanced', async (t) => {
  const clock = new Clock();
  const { nat, lb, ct } = setup(2);
  const a = pass(nat, eth(ipv4({ src: client(1), dst: VIP }, TCP, tcpSeg(1111, 80, SYN))), OUT, IN);
  pass(nat, eth(ipv4({ src: client(2), dst: VIP }, TCP, tcpSeg(2222, 80, SYN))), OUT, IN);
  t.equal(pass(nat, eth(ipv4({ src: client(3), dst: VIP }, TCP, tcpSeg(3333, 80, SYN))), OUT, IN).v, DROP);
  // Client 1 resets its connection; the entry closes and expires after the short timeout.
  const rst = pass(nat, eth(ipv4({ src: client(1), dst: VIP }, TCP, tcpSeg(1111, 80, RST | ACK))), OUT, IN);
  t.equal(rst.v, ACCEPT);
  t.equal(rst.p.daddr, a.p.daddr, 'later packets follow the chosen node');
  ct.tick(clock.advance(10));
  t.equal(lb.active, 1);
  t.equal(lb.stats().nodes[0].active, 0);
  t.equal(nat.stats().pools[0].free, nat.stats().pools[0].size - 1, 'pool port returned');
  const c = pass(nat, eth(ipv4({ src: client(3), dst: VIP }, TCP, tcpSeg(3333, 80, SYN))), OUT, IN);
  t.equal(c.v, ACCEPT, 'a freed session slot is used by a retried SYN');
  t.equal(lb.active, 2);

  const other = pass(nat, eth(ipv4({ src: client(4), dst: VIP }, TCP, tcpSeg(4444, 22, SYN))), OUT, IN);
  t.equal(other.v, ACCEPT);
  t.equal(other.p.daddr, ip(VIP), 'another port is not balanced');
  const wrongIf = pass(nat, eth(ipv4({ src: client(5), dst: VIP }, TCP, tcpSeg(5555, 80, SYN))), IN, OUT);
  t.equal(wrongIf.p.daddr, ip(VIP), 'only on the clients Iface');
  t.ok(lb.stats().nodes.reduce((s, n) => s + n.packets, 0) > 0, 'per-node packet counters');
  t.equal(ACK, 0x10);
});

t.test('balancers from the Model', async (t) => {
  const m = {
    ifaces: [
      { name: 'outside', address: ip(VIP) }, { name: 'inside', address: ip(SADDR) },
    ],
    loadBalancers: [{
      name: 'web', layer: 'tcp',
      clients: { iface: 'outside', port: 80, waitQueueLimit: 10, sessionLimit: 5 },
      servers: { iface: 'inside', algorithm: 'round_robin', pool: [{ address: ip(NODES[0]), port: 80 }] },
    }],
  } as unknown as Model;
  const [lb] = balancersFromModel(m);
  t.equal(lb.clientsIf, 0);
  t.equal(lb.serversIf, 1);
  t.equal(lb.vip, ip(VIP));
  t.equal(lb.sessionLimit, 5);
  t.equal(lb.stats().waitQueueLimit, 10);
  lb.begin(0);
  (m.loadBalancers[0].clients as { sessionLimit: number }).sessionLimit = 7;
  const [again] = balancersFromModel(m, [lb]);
  t.equal(again, lb, 'reload keeps an unchanged balancer (and its sessions)');
  t.equal(again.sessionLimit, 7);
  t.equal(again.active, 1);
  (m.loadBalancers[0].clients as { port: number }).port = 81;
  const [changed] = balancersFromModel(m, [lb]);
  t.not(changed, lb, 'a changed balancer is new');
});
