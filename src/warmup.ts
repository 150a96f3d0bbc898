// JIT warm-up before the router takes traffic. V8 runs new code in its interpreter and
// baseline tiers first and optimizes it on a background thread once it is hot. A router that
// starts cold and meets a burst (a flood, or thousands of new connections at once) runs its
// packet path unoptimized for the whole burst, and when it is pinned to one core with its main
// thread at real-time priority the background compiler cannot run until the burst ends: a
// fresh router forwarded new flows several times slower than a warm one.
// warmUp() drives a throwaway router (its own fixed configuration, conntrack, NAT and stack)
// over in-process links with the traffic shapes that matter: UDP and TCP new flows through
// masquerade, replies, established TCP with data and TSO super-frames, ICMP echo, ARP. The
// packet path's code (stack, wire views, conntrack, NAT) is shared by every Router instance,
// so the real router starts with it compiled. Nothing of the throwaway router survives: no
// state, no counters, no log lines; the real configuration's own rules are compiled closures
// of their own and warm up with the first packets, except for the multi-field classifier: its
// lookup is one shared function, which the warm-up's block of CIDR/port rules compiles.
import { MemoryLink, pumpAll } from '../drivers/memory.js';
import type { FrameBatch } from '../drivers/link.js';
import { VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, VNET_HDR_LEN } from '../stack/wire/virtio.js';
import { rd16, rd32 } from '../stack/wire/view.js';
import { emitEthernet } from '../stack/wire/ethernet.js';
import { emitArp } from '../stack/wire/arp.js';
import { emitIpv4 } from '../stack/wire/ipv4.js';
import { emitUdp } from '../stack/wire/udp.js';
import { emitTcp } from '../stack/wire/tcp.js';
import { emitIcmp } from '../stack/wire/icmp.js';
import { loadConfig } from './config/index.js';
import { createLogger } from './log/logger.js';
import { Router } from './router.js';

const WARM_NACL = `
Iface outside { index: 0, address: 192.168.77.1, netmask: 255.255.255.0 }
Iface inside { index: 1, address: 192.168.78.1, netmask: 255.255.255.0, masquerade: true }
Conntrack warm_ct { limit: 65536 }
Gateway warm_gw {
  forward: warm_forward,
  outside_net: { net: 192.168.77.0, netmask: 255.255.255.0, iface: outside },
  inside_net: { net: 192.168.78.0, netmask: 255.255.255.0, iface: inside }
}
Filter::IP warm_forward {
  if (ip.saddr == 172.16.0.1) { drop }
  if (ip.saddr == 172.16.0.2) { drop }
  Filter::TCP {
${Array.from({ length: 12 }, (_, i) => `    if (ip.saddr in 172.16.0.${16 * i}/28 and tcp.dport in ${1000 + i}-${1100 + i}) { drop }`).join('\n')}
  }
  accept
}
`;

const CLIENT = 0xc0a84d02; // 192.168.77.2
const SERVER = 0xc0a84e02; // 192.168.78.2
const ETH_ARP = 0x0806;
const ETH_IP = 0x0800;
const TCP_SYN = 0x02, TCP_ACK = 0x10, TCP_PSH = 0x08, TCP_FIN = 0x01;

/** One end host on the far side of a memory link: answers ARP, and (as the server) echoes
 *  UDP, answers ICMP echo and plays the TCP peer; (as the client) completes handshakes. */
class Host {
  readonly buf = new Uint8Array(1 << 20);
  readonly off = new Int32Array(512);
  readonly len = new Int32Array(512);
  count = 0;
  private pos = 0;
  routerMac: Uint8Array | null = null;

  constructor(readonly link: MemoryLink, readonly mac: Uint8Array, readonly ip: number, readonly server: boolean) {
    link.start((b) => this.receive(b));
  }

  /** Room for one frame of `len` bytes; returns its offset (vnet header zeroed before it). */
  private reserve(len: number): number {
    if (this.count === this.off.length || this.pos + VNET_HDR_LEN + len + 64 > this.buf.length) this.flush();
    const o = this.pos + VNET_HDR_LEN;
    this.buf.fill(0, this.pos, o);
    this.off[this.count] = o;
    this.len[this.count] = len;
    this.count++;
    this.pos = (o + len + 7) & ~7;
    return o;
  }

  flush(): void {
    if (this.count > 0) this.link.send(this.buf, this.off, this.len, this.count);
    this.count = 0;
    this.pos = 0;
  }

  ip4(len: number, proto: number, dst: number): number {
    const o = this.reserve(14 + len);
    emitEthernet(this.buf, o, this.routerMac!, 0, this.mac, 0, ETH_IP);
    emitIpv4(this.buf, o + 14, len, 1, 64, proto, this.ip, dst);
    return o + 34;
  }

  udp(dst: number, sport: number, dport: number, payload: number): void {
    const l4 = this.ip4(20 + 8 + payload, 17, dst);
    this.buf.fill(0x5a, l4 + 8, l4 + 8 + payload);
    emitUdp(this.buf, l4, this.ip, dst, sport, dport, payload);
  }

  tcp(dst: number, sport: number, dport: number, seq: number, ack: number, flags: number, payload: number): void {
    const l4 = this.ip4(20 + 20 + payload, 6, dst);
    this.buf.fill(0x61, l4 + 20, l4 + 20 + payload);
    emitTcp(this.buf, l4, this.ip, dst, sport, dport, seq, ack, flags, 65535, payload);
  }

  /** A TSO super-frame as a TAP with offloads delivers it: partial checksum, gso_size. */
  tso(dst: number, sport: number, dport: number, seq: number, ack: number, payload: number): void {
    const l4 = this.ip4(20 + 20 + payload, 6, dst);
    const o = l4 - 34;
    this.buf.fill(0x62, l4 + 20, l4 + 20 + payload);
    emitTcp(this.buf, l4, this.ip, dst, sport, dport, seq, ack, TCP_ACK | TCP_PSH, 65535, payload);
    const h = o - VNET_HDR_LEN;
    this.buf[h] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    this.buf[h + 1] = VIRTIO_NET_HDR_GSO_TCPV4;
    this.buf[h + 2] = 54; this.buf[h + 3] = 0; // hdr_len
    this.buf[h + 4] = 1448 & 0xff; this.buf[h + 5] = 1448 >> 8; // gso_size
    this.buf[h + 6] = 34; this.buf[h + 7] = 0; // csum_start
    this.buf[h + 8] = 16; this.buf[h + 9] = 0; // csum_offset
  }

  /** An IPv6 frame (a router solicitation, as every Linux host sends): dropped and counted. */
  ipv6(): void {
    const o = this.reserve(70);
    emitEthernet(this.buf, o, this.routerMac!, 0, this.mac, 0, 0x86dd);
    this.buf.fill(0, o + 14, o + 70);
    this.buf[o + 14] = 0x60;
  }

  icmpEcho(dst: number, type: number, id: number, seq: number): void {
    const l4 = this.ip4(20 + 8 + 32, 1, dst);
    this.buf.fill(0x33, l4 + 8, l4 + 40);
    emitIcmp(this.buf, l4, type, 0, ((id << 16) | seq) >>> 0, 32);
  }

  private receive(b: FrameBatch): void {
    const buf = b.buf;
    for (let i = 0; i < b.count; i++) {
      const o = b.off[i];
      const type = rd16(buf, o + 12);
      if (type === ETH_ARP) {
        if (rd16(buf, o + 20) === 1 && rd32(buf, o + 38) === this.ip) {
          const sha = buf.slice(o + 22, o + 28);
          this.routerMac = sha;
          const r = this.reserve(42);
          emitEthernet(this.buf, r, sha, 0, this.mac, 0, ETH_ARP);
          emitArp(this.buf, r + 14, 2, this.mac, 0, this.ip, sha, 0, rd32(buf, o + 28));
        }
        continue;
      }
      if (type !== ETH_IP || this.routerMac === null) continue;
      const ip = o + 14;
      const ihl = (buf[ip] & 15) * 4;
      const proto = buf[ip + 9];
      const src = rd32(buf, ip + 12);
      const l4 = ip + ihl;
      if (proto === 17 && this.server) {
        this.udp(src, rd16(buf, l4 + 2), rd16(buf, l4), 18);
      } else if (proto === 1 && this.server && buf[l4] === 8) {
        this.icmpEcho(src, 0, rd16(buf, l4 + 4), rd16(buf, l4 + 6));
      } else if (proto === 6) {
        const sport = rd16(buf, l4), dport = rd16(buf, l4 + 2);
        const seq = rd32(buf, l4 + 4), ack = rd32(buf, l4 + 8);
        const flags = buf[l4 + 13];
        const data = rd16(buf, ip + 2) - ihl - (buf[l4 + 12] >> 4) * 4;
        if (this.server) {
          if (flags & TCP_SYN) this.tcp(src, dport, sport, 1000, (seq + 1) >>> 0, TCP_SYN | TCP_ACK, 0);
          else if (flags & TCP_FIN) this.tcp(src, dport, sport, ack, (seq + 1) >>> 0, TCP_FIN | TCP_ACK, 0);
          else if (data > 0) this.tcp(src, dport, sport, ack, (seq + data) >>> 0, TCP_ACK, 0);
        } else if ((flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)) {
          this.tcp(src, dport, sport, ack, (seq + 1) >>> 0, TCP_ACK | TCP_PSH, 100);
          this.tso(src, dport, sport, (ack + 100) >>> 0, (seq + 1) >>> 0, 1448 * 8);
          this.tcp(src, dport, sport, (ack + 100 + 1448 * 8) >>> 0, (seq + 1) >>> 0, TCP_FIN | TCP_ACK, 0);
        }
      }
    }
  }
}

// Links of several classes (one per kind, as alike as can be): the stack's calls into its links
// are then compiled for any link class, and stay valid when the real router's TAP or
// AF_PACKET links come in.
const LINK_KINDS = [
  class WarmLinkA extends MemoryLink {}, class WarmLinkB extends MemoryLink {}, class WarmLinkC extends MemoryLink {},
  class WarmLinkD extends MemoryLink {}, class WarmLinkE extends MemoryLink {},
];

function linkPair(kind: number, nameA: string, macA: Uint8Array, nameB: string, macB: Uint8Array): [MemoryLink, MemoryLink] {
  const K = LINK_KINDS[kind % LINK_KINDS.length]!;
  const opts = { vnetHdr: true, queueFrames: 2048, queueBytes: 8 << 20 };
  const a = new K(nameA, macA, opts);
  const b = new MemoryLink(nameB, macB, opts);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

export interface WarmupResult { packets: number; ms: number }

/**
 * Runs the throwaway router for about `budgetMs` of packet work, yielding between rounds so
 * the background compiler can finish what the first rounds made hot.
 */
export async function warmUp(budgetMs = 300): Promise<WarmupResult> {
  const t0 = performance.now();
  let packets = 0;
  // Several routers one after the other, each with rules of its own: code that calls into
  // compiled chains is then optimized for calls to any chain (not inlined for the warm-up's,
  // which the real router's would invalidate), and each new router's tables grow again
  // while the code that grows them is already hot.
  const ROUTERS = 5;
  for (let i = 0; i < ROUTERS; i++) {
    packets += await driveOne(i, t0 + (budgetMs * (i + 1)) / ROUTERS);
  }
  return { packets, ms: performance.now() - t0 };
}

async function driveOne(variant: number, until: number): Promise<number> {
  const { model } = loadConfig(WARM_NACL.replace(/172\.16\.0\./g, `172.16.${variant}.`), '<warm-up>');
  if (!model) throw new Error('warm-up configuration invalid');
  const mac = (n: number) => Uint8Array.of(0x02, 0x77, 0, 0, variant, n);
  const [r0, h0] = linkPair(variant, 'warm0', mac(1), 'warmh0', mac(2));
  const [r1, h1] = linkPair(variant + 1, 'warm1', mac(3), 'warmh1', mac(4));
  const links = [r0, r1, h0, h1];
  const router = new Router(model, { links: [r0, r1], logger: createLogger({ level: 'silent', pretty: false }) });
  const client = new Host(h0, mac(2), CLIENT, false);
  const server = new Host(h1, mac(4), SERVER, true);
  client.routerMac = r0.mac;
  let packets = 0;
  try {
    router.start();
    pumpAll(links);
    let port = 1024;
    for (let round = 0; (round < 8 || performance.now() < until) && round < 200; round++) {
      for (let k = 0; k < 48; k++) {
        // New flows (conntrack insert + masquerade), enough that every warm-up router's table
        // grows past its initial 1024 entries and the growth path is compiled too.
        for (let j = 0; j < 3; j++) {
          port = port >= 65000 ? 1024 : port + 1;
          client.udp(SERVER, port, 9000, 18);
        }
        if ((k & 3) === 0) client.udp(SERVER, 1000, 9000, 1400); // one long-lived flow
        if ((k & 7) === 0) client.tcp(SERVER, port, 80, 5000, 0, TCP_SYN, 0);
        if ((k & 15) === 0) client.icmpEcho(SERVER, 8, 7, (round * 48 + k) & 0xffff);
        if ((k & 15) === 8) client.icmpEcho(SERVER, 0, (round * 48 + k) & 0xffff, 1); // unsolicited echo reply
        if ((k & 15) === 4) client.ipv6();
      }
      client.flush();
      packets += pumpAll(links, 20);
      server.flush();
      client.flush();
      packets += pumpAll(links, 20);
      // Let the background compiler run now and then (it shares the core when pinned).
      if ((round & 7) === 7) await new Promise((r) => setTimeout(r, 1));
    }
    router.stack.tick();
  } finally {
    router.stop();
  }
  return packets;
}
