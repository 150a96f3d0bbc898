// PacketLink: a Link over an AF_PACKET socket bound to an existing interface (a veth end,
// a NIC), promiscuous, batched with recvmmsg/sendmmsg; frames we send are not received back.
// With vnetHdr (the default) the socket uses PACKET_VNET_HDR, so checksum-offloaded and GSO/
// GRO frames carry their metadata in the virtio_net_hdr_v1 at off-12 (num_buffers always 0)
// instead of arriving with unfinished checksums; the router must honour it.

import {
  NativeBackedLink, OPEN_VNET_HDR, explain, nativeAddon, privilegeHint, type NativeLinkOptions,
} from './native.js';

export interface PacketOptions extends NativeLinkOptions {
  /** Interface to attach to; it must exist in this namespace. */
  name: string;
  /** PACKET_VNET_HDR (default true). */
  vnetHdr?: boolean;
}

export class PacketLink extends NativeBackedLink {
  constructor(opts: PacketOptions) {
    const flags = opts.vnetHdr ?? true ? OPEN_VNET_HDR : 0;
    super((stats) => {
      try {
        return nativeAddon().openPacket(opts.name, flags, stats);
      } catch (err) {
        return explain(err, (e) => privilegeHint(e) ?? (e.code === 'ENODEV' ? `no interface named ${opts.name}` : undefined));
      }
    }, opts);
  }
}
