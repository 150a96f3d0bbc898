// L2 helpers over any Link, for the driver tests and the driver benchmark: a tiny ARP + ICMP
// echo responder and an L2 bridge, both working in place on the receive batch. Namespaces,
// veths and commands come from lab/netlab.ts (its async run() keeps the event loop, and so the
// links, running while a tool runs).

import { ArpView, ARP_REPLY, ARP_REQUEST, emitArp } from '../stack/wire/arp.js';
import { emitEthernet, ETH_HEADER_LEN, ETH_SRC, ETH_TYPE, ETHERTYPE_ARP, ETHERTYPE_IPV4 } from '../stack/wire/ethernet.js';
import { ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, IcmpView } from '../stack/wire/icmp.js';
import { Ipv4View, PROTO_ICMP } from '../stack/wire/ipv4.js';
import { rd16 } from '../stack/wire/view.js';
import type { FrameBatch, Link } from '../drivers/link.js';
import { clearVnetHdr, VirtioNetHdrView, VNET_HDR_LEN } from '../stack/wire/virtio.js';

/**
 * Answers ARP requests for `ip` and ICMP echo requests to `ip` on `link`, rewriting each
 * request into its reply in place and sending all replies of a batch in one call.
 */
export function startResponder(link: Link, ip: number): { arp: number; echo: number } {
  const seen = { arp: 0, echo: 0 };
  const mac = link.mac;
  const arp = new ArpView(), h = new Ipv4View(), icmp = new IcmpView();
  let off = new Int32Array(64);
  let len = new Int32Array(64);
  link.start((b: FrameBatch) => {
    if (off.length < b.count) { off = new Int32Array(b.count); len = new Int32Array(b.count); }
    const buf = b.buf;
    let n = 0;
    for (let i = 0; i < b.count; i++) {
      const o = b.off[i]!;
      const l = b.len[i]!;
      const type = rd16(buf, o + ETH_TYPE);
      const l3 = o + ETH_HEADER_LEN;
      if (type === ETHERTYPE_ARP) {
        const a = arp.reset(buf, l3, l - ETH_HEADER_LEN);
        if (a.check() !== 0 || a.oper !== ARP_REQUEST || a.tpa !== ip) continue;
        const sha = buf.slice(a.shaOff, a.shaOff + 6), spa = a.spa;
        emitArp(buf, l3, ARP_REPLY, mac, 0, ip, sha, 0, spa);
        emitEthernet(buf, o, sha, 0, mac, 0, ETHERTYPE_ARP);
        seen.arp++;
      } else if (type === ETHERTYPE_IPV4) {
        const v = h.reset(buf, l3, l - ETH_HEADER_LEN);
        if (v.check() !== 0 || v.proto !== PROTO_ICMP || v.daddr !== ip) continue;
        const m = icmp.reset(buf, l3 + v.headerLen, v.totalLen - v.headerLen);
        if (m.check() !== 0 || m.type !== ICMP_ECHO_REQUEST) continue;
        m.type = ICMP_ECHO_REPLY;
        m.fillChecksum();
        const src = v.saddr;
        v.saddr = ip;
        v.daddr = src;
        const dst = buf.slice(o + ETH_SRC, o + ETH_SRC + 6);
        emitEthernet(buf, o, dst, 0, mac, 0, ETHERTYPE_IPV4);
        seen.echo++;
      } else {
        continue;
      }
      if (link.vnetHdr) clearVnetHdr(buf, o - VNET_HDR_LEN);
      off[n] = o; len[n] = l; n++;
    }
    if (n > 0) link.send(buf, off, len, n);
  });
  return seen;
}

/** Forwards every frame between two links unchanged (vnet headers included); records the
 * largest frame seen and, on vnet links, the GSO type and size of the last super-frame. */
export function bridge(a: Link, b: Link): { maxFrame: number; frames: number; gsoType: number; gsoSize: number } {
  const st = { maxFrame: 0, frames: 0, gsoType: -1, gsoSize: -1 };
  const vnet = new VirtioNetHdrView();
  const pass = (from: Link, to: Link) => (batch: FrameBatch): void => {
    for (let i = 0; i < batch.count; i++) {
      const l = batch.len[i]!;
      if (l > st.maxFrame) st.maxFrame = l;
      if (from.vnetHdr && l > 1514) {
        const h = vnet.reset(batch.buf, batch.off[i]! - VNET_HDR_LEN, VNET_HDR_LEN);
        st.gsoType = h.gsoType;
        st.gsoSize = h.gsoSize;
      }
    }
    st.frames += batch.count;
    to.send(batch.buf, batch.off, batch.len, batch.count);
  };
  a.start(pass(a, b));
  b.start(pass(b, a));
  return st;
}
