// Conntrack micro-benchmark (`npm run bench:conntrack`): inserts/s and lookups/s through
// Conntrack.track() at 1k, 100k and 1M connections, the same with masquerade (NatEngine),
// and process RSS with 1M connections (target: under 256 MB). One reusable Pkt over one
// UDP frame; only the header mirrors change between packets, as in the stack.

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Conntrack } from '../stack/conntrack.js';
import { NatEngine } from '../stack/nat.js';
import { BROADCAST_MAC, emitEthernet, ETH_HEADER_LEN, ETHERTYPE_IPV4 } from '../stack/wire/ethernet.js';
import { emitIpv4, IP_MIN_HEADER_LEN, Ipv4View, PROTO_UDP } from '../stack/wire/ipv4.js';
import { Pkt } from '../stack/wire/pkt.js';
import { emitUdp, UDP_HEADER_LEN } from '../stack/wire/udp.js';

const gc = (globalThis as { gc?: () => void }).gc;

const L3 = ETH_HEADER_LEN, L4 = L3 + IP_MIN_HEADER_LEN, DATA = 16;
const IP_LEN = IP_MIN_HEADER_LEN + UDP_HEADER_LEN + DATA;

/** One Ethernet/IPv4/UDP frame (addresses and ports follow the Pkt's mirrors, set per packet). */
function pkt(): Pkt {
  const f = new Uint8Array(L3 + IP_LEN);
  emitEthernet(f, 0, BROADCAST_MAC, 0, BROADCAST_MAC, 0, ETHERTYPE_IPV4);
  emitUdp(f, L4, 0, 0, 0, 0, DATA);
  emitIpv4(f, L3, IP_LEN, 1, 64, PROTO_UDP, 0, 0);
  const p = new Pkt();
  p.reset(f, new DataView(f.buffer), 0, f.length);
  p.l3 = L3; p.l4 = L4; p.ipLen = IP_LEN; p.l4Len = IP_LEN - IP_MIN_HEADER_LEN; p.proto = PROTO_UDP;
  return p;
}

const ip4 = new Ipv4View();

const CLIENT_BASE = 0x0a000000;
const SERVER = 0xc0a80036;

/** Connection i: client 10.x.y.z (i / 16) port 1024 + i % 16 -> server:53. */
function setOrig(p: Pkt, i: number): void {
  p.saddr = (CLIENT_BASE + (i >>> 4)) >>> 0;
  p.daddr = SERVER;
  p.sport = 1024 + (i & 15);
  p.dport = 53;
  p.conn = -1;
}

/** CPU time of this process in ns: the machine is shared, so wall time would mostly measure
 *  the neighbours. */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

function mops(n: number, ns: number): string {
  return (n / (ns / 1e9) / 1e6).toFixed(2);
}

function mb(bytes: number): string {
  return (bytes / 1048576).toFixed(1);
}

function run(n: number, lookups: number): { insert: string; lookup: string; miss: string } {
  // Small tables are filled many times so the insert figure is not a handful of microseconds.
  const reps = Math.max(1, Math.floor(200_000 / n));
  const p = pkt();
  let ct = new Conntrack({ limit: n, reserve: n }, { seed: 12345 });
  let tIns = 0;
  for (let rep = 0; rep < reps; rep++) {
    ct = new Conntrack({ limit: n, reserve: n }, { seed: 12345 + rep });
    const t0 = cpuNs();
    for (let i = 0; i < n; i++) {
      setOrig(p, i);
      if (ct.track(p) !== 0) throw new Error(`insert ${i} failed`);
    }
    tIns += cpuNs() - t0;
  }
  let x = 1;
  let t0 = cpuNs();
  for (let k = 0; k < lookups; k++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    setOrig(p, x % n);
    ct.track(p);
  }
  const tLook = cpuNs() - t0;
  t0 = cpuNs();
  let misses = 0;
  for (let k = 0; k < lookups; k++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    if (ct.find(0x0b000000 + (x & 0xffffff), SERVER, 1024, 53, 17) < 0) misses++;
  }
  const tMiss = cpuNs() - t0;
  if (ct.entries !== n || misses !== lookups) throw new Error('bench table inconsistent');
  return { insert: mops(n * reps, tIns), lookup: mops(lookups, tLook), miss: mops(lookups, tMiss) };
}

function runMasq(n: number): { first: string; established: string } {
  const ct = new Conntrack({ limit: n, reserve: n }, { seed: 1 });
  const nat = new NatEngine(ct, { ifaces: [{ address: 0x0a00002d, masquerade: true }], portRange: [1024, 65535] });
  const p = pkt();
  let t0 = cpuNs();
  let ok = 0;
  for (let i = 0; i < n; i++) {
    setOrig(p, i);
    p.daddr = (0x08080000 + (i % 1000)) >>> 0;
    ip4.reset(p.buf, L3, IP_LEN).saddr = p.saddr;
    if (nat.track(p) === 0) {
      p.outIf = 0;
      if (nat.finish(p) === 0) ok++;
    }
  }
  const tFirst = cpuNs() - t0;
  t0 = cpuNs();
  for (let i = 0; i < n; i++) {
    setOrig(p, i);
    p.daddr = (0x08080000 + (i % 1000)) >>> 0;
    ip4.reset(p.buf, L3, IP_LEN).saddr = p.saddr;
    nat.track(p);
    p.outIf = 0;
    nat.finish(p);
  }
  const tEst = cpuNs() - t0;
  if (ok !== n) throw new Error(`masquerade: ${ok}/${n}`);
  return { first: mops(n, tFirst), established: mops(n, tEst) };
}

function main(): void {
  gc?.();
  const base = process.memoryUsage().rss;
  console.log(`conntrack bench (node ${process.version}); M/s = million packets per second of CPU time through track()`);
  run(100_000, 1_000_000); // warm-up: let V8 optimise the packet path first
  for (const n of [1_000, 100_000, 1_000_000]) {
    gc?.();
    const r = run(n, 2_000_000);
    console.log(`${String(n).padStart(9)} entries: insert ${r.insert} M/s, lookup (hit) ${r.lookup} M/s, lookup (miss) ${r.miss} M/s`);
  }
  for (const n of [50_000]) {
    const r = runMasq(n);
    console.log(`${String(n).padStart(9)} masqueraded UDP flows: first packet (track+finish, pool port) ${r.first} M/s, later packets ${r.established} M/s`);
  }
  // RSS in a fresh process, so the figures above leave no garbage behind.
  const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--rss'], { encoding: 'utf8' });
  process.stdout.write(out);
}

/** Child mode: fill a table with 1M connections (grown from empty, as in service) and report RSS. */
function rssOnly(): void {
  gc?.();
  const before = process.memoryUsage().rss;
  const ct = new Conntrack({ limit: 1_000_000 }, { seed: 7 });
  const nat = new NatEngine(ct, { ifaces: [] });
  const p = pkt();
  for (let i = 0; i < 1_000_000; i++) {
    setOrig(p, i);
    nat.track(p);
  }
  gc?.();
  const mem = process.memoryUsage();
  console.log(`RSS with 1M connections (fresh process, Conntrack + NatEngine, grown from empty): ${mb(mem.rss)} MB ` +
    `(${mb(before)} MB before the table; array buffers ${mb(mem.arrayBuffers)} MB; ${ct.entries} entries, capacity ${ct.capacity}); ` +
    `target < 256 MB: ${mem.rss < 256 * 1048576 ? 'met' : 'NOT met'}`);
}

if (process.argv.includes('--rss')) rssOnly();
else main();
