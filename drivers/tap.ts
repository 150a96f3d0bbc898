// TapLink: a Link over a Linux TAP device (IFF_TAP|IFF_NO_PI), created if absent and gone
// when closed (unless it was made persistent elsewhere). With vnetHdr (the default) the
// device is opened with IFF_VNET_HDR and checksum/TSO offloads, so TCP super-frames up to
// 64 KB cross as one frame with a virtio_net_hdr_v1 at off-12; the router must honour it.
// The kernel-side interface may be moved to another namespace after open; the fd keeps
// working, but by-name controls (setUp, setMtu) then fail with ENODEV.

import { existsSync } from 'node:fs';
import {
  NativeBackedLink, OPEN_MULTI_QUEUE, OPEN_VNET_HDR, explain, nativeAddon, privilegeHint,
  type NativeLinkOptions,
} from './native.js';

export interface TapOptions extends NativeLinkOptions {
  /** Device name; "nacl%d" lets the kernel pick the number. */
  name: string;
  /** IFF_VNET_HDR with checksum/TSO offloads (default true). */
  vnetHdr?: boolean;
  /** IFF_MULTI_QUEUE, so several TapLinks can share one device (default false). */
  multiQueue?: boolean;
  /** Frames the kernel may queue towards us before it drops (the device's txqueuelen;
   *  default 4096, the kernel's own is 500): absorbs bursts and pauses of the loop. */
  txQueueLen?: number;
}

export class TapLink extends NativeBackedLink {
  constructor(opts: TapOptions) {
    const flags = (opts.vnetHdr ?? true ? OPEN_VNET_HDR : 0) | (opts.multiQueue ? OPEN_MULTI_QUEUE : 0);
    super((stats) => {
      if (!existsSync('/dev/net/tun')) {
        throw new Error('TAP unavailable: /dev/net/tun does not exist (load the tun module: modprobe tun)');
      }
      try {
        const native = nativeAddon().openTap(opts.name, flags, stats);
        const qlen = opts.txQueueLen ?? 4096;
        if (qlen > 0) {
          try { nativeAddon().ifSetTxQueueLen(opts.name, qlen); } catch { /* best effort: an existing device may be elsewhere */ }
        }
        return native;
      } catch (err) {
        return explain(err, (e) => privilegeHint(e) ?? (e.code === 'EBUSY' ? `${opts.name} is in use` : undefined));
      }
    }, opts);
  }

  /** Carrier as seen by the kernel side (TUNSETCARRIER); works after a namespace move. */
  setCarrier(on: boolean): void {
    this.native.setCarrier(on);
  }
}
