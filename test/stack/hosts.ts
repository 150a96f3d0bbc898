// Test helpers: simulated hosts on in-process links that build and parse frames with the
// stack's own wire module, and a two-link router fixture. Not a test file itself.
import { memoryPair, MemoryLink, pumpAll } from '../../drivers/memory.js';
import { PcapLink } from '../../drivers/pcap.js';
import type { Link } from '../../drivers/link.js';
import { Stack } from '../../stack/stack.js';
import { acceptAllHooks } from '../../stack/iface.js';
import type { IfaceConfig, StackConfig, StackHooks } from '../../stack/iface.js';
import type { RouteConfig } from '../../stack/route.js';
import { ArpView, emitArp, ARP_REPLY, ARP_REQUEST } from '../../stack/wire/arp.js';
import { checksum, pseudoSum, sum16 } from '../../stack/wire/checksum.js';
import { BROADCAST_MAC, ETH_DST, ETH_HEADER_LEN, ETH_SRC, ETH_TYPE, ETHERTYPE_VLAN, EthernetView, parseMac } from '../../stack/wire/ethernet.js';
import { emitIcmp } from '../../stack/wire/icmp.js';
import { emitIpv4, Ipv4View, parseIpv4 } from '../../stack/wire/ipv4.js';
import { emitTcp } from '../../stack/wire/tcp.js';
import { emitUdp, UdpView } from '../../stack/wire/udp.js';
import { emitEthernetVlan, VLAN_ETH_HEADER_LEN, VlanView } from '../../stack/wire/vlan.js';

export const ip = (s: string): number => parseIpv4(s)!;
export const mac = (s: string): Uint8Array => parseMac(s)!;

export interface Parsed {
  bytes: Uint8Array;
  vlan: number;
  ethertype: number;
  dst: Uint8Array;
  src: Uint8Array;
  l3: number;
  /** The virtio_net_hdr received with the frame (vnetHdr links). */
  vnet?: Uint8Array;
}

/** A host on one end of a memory link. Answers ARP for its address when `arp` is on. */
export class Host {
  readonly frames: Parsed[] = [];
  arp = true;
  vlan = -1;
  constructor(readonly link: MemoryLink, readonly mac: Uint8Array, readonly addr: number) {
    link.start((b) => {
      for (let i = 0; i < b.count; i++) {
        this.onFrame(b.buf.slice(b.off[i], b.off[i] + b.len[i]));
        if (link.vnetHdr) this.frames[this.frames.length - 1].vnet = b.buf.slice(b.off[i] - 12, b.off[i]);
      }
    });
  }

  private onFrame(f: Uint8Array): void {
    const p = parse(f);
    if (this.arp && p.ethertype === 0x0806 && (this.vlan < 0 || p.vlan === this.vlan)) {
      const a = new ArpView().reset(f, p.l3, f.length - p.l3);
      if (a.check() === 0 && a.oper === ARP_REQUEST && a.tpa === this.addr) {
        const out = new Uint8Array(this.vlan >= 0 ? 46 : 42);
        const sha = f.slice(a.shaOff, a.shaOff + 6);
        const o = this.eth(out, sha, 0x0806);
        emitArp(out, o, ARP_REPLY, this.mac, 0, this.addr, sha, 0, a.spa);
        this.send(out);
      }
    }
    this.frames.push(p);
  }

  /** Ethernet header (tagged when this host sits on a VLAN); returns the L3 offset. */
  eth(out: Uint8Array, dst: Uint8Array, type: number): number {
    return emitEthernetVlan(out, 0, dst, 0, this.mac, 0, this.vlan, type);
  }

  send(f: Uint8Array, vnet?: Uint8Array): void {
    const slab = new Uint8Array(12 + f.length);
    if (vnet) slab.set(vnet, 0);
    slab.set(f, 12);
    this.link.send(slab, Int32Array.of(12), Int32Array.of(f.length), 1);
  }

  arpRequest(target: number): void {
    const out = new Uint8Array(this.vlan >= 0 ? 46 : 42);
    const o = this.eth(out, BROADCAST_MAC, 0x0806);
    emitArp(out, o, ARP_REQUEST, this.mac, 0, this.addr, new Uint8Array(6), 0, target);
    this.send(out);
  }

  /** An IPv4 frame with `l4` (already complete) as payload. */
  ipFrame(dstMac: Uint8Array, src: number, dst: number, proto: number, l4: Uint8Array, ttl = 64, id = 1): Uint8Array {
    const hl = this.vlan >= 0 ? 18 : 14;
    const out = new Uint8Array(hl + 20 + l4.length);
    this.eth(out, dstMac, 0x0800);
    out.set(l4, hl + 20);
    emitIpv4(out, hl, 20 + l4.length, id, ttl, proto, src, dst);
    return out;
  }

  ping(dstMac: Uint8Array, dst: number, opts: { ttl?: number; id?: number; seq?: number; src?: number; data?: number } = {}): Uint8Array {
    const data = opts.data ?? 16;
    const l4 = new Uint8Array(8 + data);
    for (let i = 0; i < data; i++) l4[8 + i] = i;
    emitIcmp(l4, 0, 8, 0, ((opts.id ?? 7) << 16) | (opts.seq ?? 1), data);
    const f = this.ipFrame(dstMac, opts.src ?? this.addr, dst, 1, l4, opts.ttl ?? 64);
    this.send(f);
    return f;
  }

  udp(dstMac: Uint8Array, dst: number, sport: number, dport: number, payload: Uint8Array, ttl = 64): Uint8Array {
    const l4 = new Uint8Array(8 + payload.length);
    l4.set(payload, 8);
    emitUdp(l4, 0, this.addr, dst, sport, dport, payload.length);
    const f = this.ipFrame(dstMac, this.addr, dst, 17, l4, ttl);
    this.send(f);
    return f;
  }

  tcp(dstMac: Uint8Array, dst: number, sport: number, dport: number, flags: number, ttl = 64): Uint8Array {
    const l4 = new Uint8Array(20);
    emitTcp(l4, 0, this.addr, dst, sport, dport, 1000, 0, flags, 65535, 0);
    const f = this.ipFrame(dstMac, this.addr, dst, 6, l4, ttl);
    this.send(f);
    return f;
  }

  take(): Parsed[] { return this.frames.splice(0); }
  ofType(type: number): Parsed[] { return this.frames.filter((p) => p.ethertype === type); }
}

export function parse(f: Uint8Array): Parsed {
  const e = new EthernetView().reset(f, 0, f.length);
  let type = e.ethertype, l3 = ETH_HEADER_LEN, vlan = -1;
  if (type === ETHERTYPE_VLAN) {
    const tag = new VlanView().reset(f, ETH_TYPE, f.length - ETH_TYPE);
    vlan = tag.vid; type = tag.innerType; l3 = VLAN_ETH_HEADER_LEN;
  }
  return { bytes: f, vlan, ethertype: type, dst: f.slice(ETH_DST, ETH_DST + 6), src: f.slice(ETH_SRC, ETH_SRC + 6), l3 };
}

/** Check an IPv4 datagram inside a parsed frame: header + L4 checksums. */
export function ipValid(p: Parsed): boolean {
  const f = p.bytes;
  const v = new Ipv4View().reset(f, p.l3, f.length - p.l3);
  if (v.check() !== 0) return false;
  const l4 = p.l3 + v.headerLen, l4len = v.totalLen - v.headerLen;
  if (v.proto === 1) return sum16(f, l4, l4len) === 0xffff;
  if (v.proto === 6 || v.proto === 17) {
    if (v.proto === 17 && new UdpView().reset(f, l4, l4len).csum === 0) return true;
    return sum16(f, l4, l4len, pseudoSum(v.saddr, v.daddr, v.proto, l4len)) === 0xffff;
  }
  return checksum(f, p.l3, v.headerLen) === 0;
}

export const ipv4 = (p: Parsed): Ipv4View => new Ipv4View().reset(p.bytes, p.l3, p.bytes.length - p.l3);

export const R_MAC = [mac('02:00:00:00:01:00'), mac('02:00:00:00:01:01')];
export const A_MAC = mac('02:00:00:00:0a:0a');
export const B_MAC = mac('02:00:00:00:0b:0b');

export interface Fixture {
  stack: Stack;
  a: Host;
  b: Host;
  routerLinks: MemoryLink[];
  links: MemoryLink[];
  now: { t: number };
  pump(): number;
  pcaps: PcapLink[];
}

/** Router with eth0 10.0.0.1/24 (host A 10.0.0.10) and eth1 10.0.1.1/24 (host B 10.0.1.20). */
export function twoLegs(opts: {
  routes?: RouteConfig[]; hooks?: StackHooks; pcapDir?: string; ifaces?: Partial<IfaceConfig>[];
  extra?: Partial<StackConfig>;
} = {}): Fixture {
  const [r0, h0] = memoryPair('r0', R_MAC[0], 'h0', A_MAC);
  const [r1, h1] = memoryPair('r1', R_MAC[1], 'h1', B_MAC);
  const now = { t: 1_000_000 };
  const pcaps: PcapLink[] = [];
  let links: Link[] = [r0, r1];
  if (opts.pcapDir) links = links.map((l, i) => { const p = new PcapLink(l, `${opts.pcapDir}/router${i}.pcap`, { rx: false }); pcaps.push(p); return p; });
  const ifaces: IfaceConfig[] = [
    { name: 'eth0', link: 0, mac: R_MAC[0], address: ip('10.0.0.1'), netmask: ip('255.255.255.0'), vlan: null, ...(opts.ifaces?.[0] ?? {}) },
    { name: 'eth1', link: 1, mac: R_MAC[1], address: ip('10.0.1.1'), netmask: ip('255.255.255.0'), vlan: null, ...(opts.ifaces?.[1] ?? {}) },
  ];
  const routes = opts.routes ?? [
    { net: ip('10.0.0.0'), prefix: 24, nexthop: 0, iface: 0 },
    { net: ip('10.0.1.0'), prefix: 24, nexthop: 0, iface: 1 },
  ];
  const stack = new Stack({
    ifaces, routes, sendTimeExceeded: true, hooks: opts.hooks ?? acceptAllHooks(2), clock: () => now.t,
    ...(opts.extra ?? {}),
  }, links);
  const a = new Host(h0, A_MAC, ip('10.0.0.10'));
  const b = new Host(h1, B_MAC, ip('10.0.1.20'));
  const all = [r0, r1, h0, h1];
  return { stack, a, b, routerLinks: [r0, r1], links: all, now, pump: () => pumpAll(all), pcaps };
}
