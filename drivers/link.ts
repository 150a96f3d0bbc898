// The link interface every driver implements (TAP, AF_PACKET, in-process memory links).
// Frames move in batches: a driver reads many frames into its slab and calls onRx once per
// batch; send() writes many frames from (buf, off[i], len[i]) in one call. The receive batch
// is only valid during the onRx call (the slab is reused afterwards), so a router forwards
// in place and sends before returning.
//
// Offloads: when vnetHdr is true, every frame (rx and tx) is preceded in the slab by
// VNET_HDR_LEN bytes of struct virtio_net_hdr_v1 at off[i] - VNET_HDR_LEN (its layout and
// helpers: stack/wire/virtio.ts); off[i]/len[i] always describe the Ethernet frame itself.
// Senders on such a link must leave VNET_HDR_LEN bytes of headroom before each frame and fill
// the header (zeroed = no offload).

export interface FrameBatch {
  buf: Uint8Array;
  off: Int32Array;
  len: Int32Array;
  count: number;
}

export interface LinkStats {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  /** Frames the driver could not send (queue full, EAGAIN, error). */
  txDropped: number;
  rxErrors: number;
}

export interface Link {
  readonly name: string;
  /** 6 bytes. */
  readonly mac: Uint8Array;
  readonly mtu: number;
  readonly vnetHdr: boolean;
  readonly stats: LinkStats;
  /** Start delivering received batches. */
  start(onRx: (batch: FrameBatch) => void): void;
  /** Write frames; returns how many were written. */
  send(buf: Uint8Array, off: Int32Array, len: Int32Array, count: number): number;
  close(): void;
}
