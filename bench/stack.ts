// Micro-benchmark of the stack's forwarding path: parse + route + TTL + rewrite of a prepared
// batch of 64 UDP frames (restoring the destination MAC and TTL after each round), driven straight into Stack.receive() with a sink link (no copies),
// on a warmed JIT. Reports ns per packet with and without (accept-all) hooks, then runs itself
// as a child under `node --trace-gc` for a long forwarding run and counts scavenges, which must
// stay near zero if nothing is allocated per packet.
//   node build/bench/stack.js [--packets N]        (npm run bench:stack)
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FrameBatch, Link, LinkStats } from '../drivers/link.js';
import { Stack } from '../stack/stack.js';
import { acceptAllHooks } from '../stack/iface.js';
import type { StackHooks } from '../stack/iface.js';
import { emitArp, ARP_REQUEST } from '../stack/wire/arp.js';
import { copyMac, emitEthernet, ETH_DST, ETH_HEADER_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, parseMac } from '../stack/wire/ethernet.js';
import { emitIpv4, IP_MIN_HEADER_LEN, Ipv4View, parseIpv4, PROTO_UDP } from '../stack/wire/ipv4.js';
import { emitUdp, UDP_HEADER_LEN } from '../stack/wire/udp.js';

class SinkLink implements Link {
  readonly stats: LinkStats = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, txDropped: 0, rxErrors: 0 };
  readonly mtu = 1500;
  readonly vnetHdr = false;
  constructor(readonly name: string, readonly mac: Uint8Array) {}
  start(): void {}
  send(_b: Uint8Array, _o: Int32Array, _l: Int32Array, count: number): number { this.stats.txPackets += count; return count; }
  close(): void {}
}

const ip = (s: string): number => parseIpv4(s)!;
const R0 = parseMac('02:00:00:00:01:00')!, R1 = parseMac('02:00:00:00:01:01')!;
const A = parseMac('02:00:00:00:0a:0a')!, B = parseMac('02:00:00:00:0b:0b')!;
const BATCH = 64, STRIDE = 256, HEAD = 64, PAYLOAD = 18;
const IP_LEN = IP_MIN_HEADER_LEN + UDP_HEADER_LEN + PAYLOAD;
const ip4 = new Ipv4View();

function setup(hooks: StackHooks | null) {
  const links = [new SinkLink('r0', R0), new SinkLink('r1', R1)];
  const stack = new Stack({
    ifaces: [
      { name: 'eth0', link: 0, mac: R0, address: ip('10.0.0.1'), netmask: ip('255.255.255.0'), vlan: null },
      { name: 'eth1', link: 1, mac: R1, address: ip('10.0.1.1'), netmask: ip('255.255.255.0'), vlan: null },
    ],
    routes: [
      { net: ip('10.0.0.0'), prefix: 24, nexthop: 0, iface: 0 },
      { net: ip('10.0.1.0'), prefix: 24, nexthop: 0, iface: 1 },
      { net: ip('192.168.0.0'), prefix: 16, nexthop: ip('10.0.1.254'), iface: 1 },
      { net: 0, prefix: 0, nexthop: ip('10.0.1.20'), iface: 1 },
    ],
    sendTimeExceeded: true, hooks: hooks ?? acceptAllHooks(2),
  }, links);
  // Teach the router B's MAC with an ARP request from B.
  const arp = new Uint8Array(HEAD + 60);
  emitEthernet(arp, HEAD, R1, 0, B, 0, ETHERTYPE_ARP);
  emitArp(arp, HEAD + ETH_HEADER_LEN, ARP_REQUEST, B, 0, ip('10.0.1.20'), new Uint8Array(6), 0, ip('10.0.1.1'));
  stack.receive(1, { buf: arp, off: Int32Array.of(HEAD), len: Int32Array.of(60), count: 1 });

  const slab = new Uint8Array(BATCH * STRIDE);
  const batch: FrameBatch = { buf: slab, off: new Int32Array(BATCH), len: new Int32Array(BATCH), count: BATCH };
  const csum = new Uint16Array(BATCH);
  for (let i = 0; i < BATCH; i++) {
    const o = i * STRIDE + HEAD;
    emitEthernet(slab, o, R0, 0, A, 0, ETHERTYPE_IPV4);
    emitUdp(slab, o + ETH_HEADER_LEN + IP_MIN_HEADER_LEN, ip('10.0.0.10'), ip('10.0.1.20'), 10000 + i, 4000, PAYLOAD);
    emitIpv4(slab, o + ETH_HEADER_LEN, IP_LEN, i, 64, PROTO_UDP, ip('10.0.0.10'), ip('10.0.1.20'));
    batch.off[i] = o;
    batch.len[i] = ETH_HEADER_LEN + IP_LEN;
    csum[i] = ip4.reset(slab, o + ETH_HEADER_LEN, IP_LEN).csum;
  }
  const run = (rounds: number): void => {
    for (let r = 0; r < rounds; r++) {
      stack.receive(0, batch);
      for (let i = 0; i < BATCH; i++) {
        const f = batch.off[i];
        copyMac(R0, 0, slab, f + ETH_DST);
        const h = ip4.reset(slab, f + ETH_HEADER_LEN, IP_LEN);
        h.ttl = 64; h.csum = csum[i];
      }
    }
  };
  return { stack, run, links };
}

function measure(label: string, hooks: StackHooks | null, packets: number): number {
  const { stack, run, links } = setup(hooks);
  run(Math.ceil(300_000 / BATCH));
  const rounds = Math.ceil(packets / BATCH);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  run(rounds);
  const wall = Number(process.hrtime.bigint() - t0) / (rounds * BATCH);
  const cu = process.cpuUsage(c0);
  const ns = ((cu.user + cu.system) * 1000) / (rounds * BATCH);
  const s = stack.snapshot();
  if (links[1].stats.txPackets < rounds * BATCH) throw new Error(`not everything was forwarded: ${JSON.stringify(s.drops)}`);
  console.log(`${label.padEnd(44)} ${ns.toFixed(1).padStart(7)} ns/packet CPU time, ${wall.toFixed(1)} wall` +
    `  (${(1e3 / ns).toFixed(2)} Mpps per core, ${rounds * BATCH} packets)`);
  return ns;
}

function gcChild(packets: number): void {
  const { run } = setup(null);
  run(Math.ceil(300_000 / BATCH));
  console.log('--- measured run ---');
  run(Math.ceil(packets / BATCH));
  console.log('--- done ---');
}

const argv = process.argv.slice(2);
const pIdx = argv.indexOf('--packets');
const packets = pIdx >= 0 ? Number(argv[pIdx + 1]) : 5_000_000;
if (argv.includes('--gc-child')) {
  gcChild(packets);
} else {
  console.log(`nacl-router stack micro-benchmark (node ${process.version}); batch ${BATCH}, ${ETH_HEADER_LEN + IP_LEN}-byte UDP frames`);
  measure('forward: parse+route+TTL+rewrite, no hooks', null, packets);
  const f = (): number => 0;
  measure('forward with 5 accept-all hook calls + conn', {
    ...acceptAllHooks(2), conn: { track: f, local: f, finish: f },
  }, packets);
  const gcPackets = packets * 4;
  const out = execFileSync(process.execPath, ['--trace-gc', fileURLToPath(import.meta.url), '--gc-child', '--packets', String(gcPackets)], { encoding: 'utf8' });
  const measured = out.slice(out.indexOf('--- measured run ---'), out.indexOf('--- done ---'));
  const scav = (measured.match(/Scavenge/g) ?? []).length;
  const mc = (measured.match(/Mark-Compact|Mark-sweep/gi) ?? []).length;
  console.log(`--trace-gc over ${gcPackets} forwarded packets: ${scav} scavenges, ${mc} mark-compacts` +
    ` (${((scav * 1e6) / gcPackets).toFixed(3)} scavenges per million packets)`);
  // Even 16 bytes per packet would be hundreds of scavenges over this run.
  if ((scav * 1e6) / gcPackets > 1) {
    console.log('FAIL: the forwarding path allocates per packet');
    process.exitCode = 1;
  } else {
    console.log('OK: no per-packet allocation on the forwarding path');
  }
}
