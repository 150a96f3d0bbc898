// struct virtio_net_hdr_v1: the offload metadata a TAP (IFF_VNET_HDR), an AF_PACKET socket
// (PACKET_VNET_HDR) or a virtio NIC puts before every frame. Unlike the network headers it is
// little endian, and it is not on the wire: links with `vnetHdr` carry it in the VNET_HDR_LEN
// bytes before the Ethernet header of each frame in the slab. A zeroed header means "a
// complete frame, no offload".
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     flags     |   gso_type    |     hdr_len (LE, bytes)       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     gso_size (LE, bytes)      |  csum_start (LE, from frame)  |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  csum_offset (LE, from start) |       num_buffers (LE)        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// flags NEEDS_CSUM: the L4 checksum is partial: the field at csum_start + csum_offset holds the
// pseudo-header sum only, and the sum over [csum_start, end of frame) remains to be folded in.
// gso_type != NONE: a super-frame (up to 64 KB) to be cut into gso_size segments of payload;
// hdr_len is the length of the headers each segment repeats (Ethernet to end of L4 header).

import { WireView } from './view.js';

export const VNET_HDR_LEN = 12;

export const VNET_FLAGS = 0;
export const VNET_GSO_TYPE = 1;
export const VNET_HDR_LEN_FIELD = 2;
export const VNET_GSO_SIZE = 4;
export const VNET_CSUM_START = 6;
export const VNET_CSUM_OFFSET = 8;
export const VNET_NUM_BUFFERS = 10;

export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

function rd16le(b: Uint8Array, o: number): number { return b[o] | (b[o + 1] << 8); }
function wr16le(b: Uint8Array, o: number, v: number): void { b[o] = v; b[o + 1] = v >>> 8; }

/** View on the header at (buf, off); off is the header's own offset (frame offset - 12). */
export class VirtioNetHdrView extends WireView {
  get flags(): number { return this.buf[this.off + VNET_FLAGS]; }
  get needsCsum(): boolean { return (this.buf[this.off + VNET_FLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0; }
  get gsoType(): number { return this.buf[this.off + VNET_GSO_TYPE]; }
  get hdrLen(): number { return rd16le(this.buf, this.off + VNET_HDR_LEN_FIELD); }
  get gsoSize(): number { return rd16le(this.buf, this.off + VNET_GSO_SIZE); }
  get csumStart(): number { return rd16le(this.buf, this.off + VNET_CSUM_START); }
  get csumOffset(): number { return rd16le(this.buf, this.off + VNET_CSUM_OFFSET); }
}

/** Write a header at h; the partial-checksum fields are written only with NEEDS_CSUM in flags
 *  (else zero). Returns VNET_HDR_LEN. */
export function emitVnetHdr(buf: Uint8Array, h: number, flags: number, gsoType: number, hdrLen: number,
  gsoSize: number, csumStart: number, csumOffset: number): number {
  const partial = (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0;
  buf[h + VNET_FLAGS] = flags;
  buf[h + VNET_GSO_TYPE] = gsoType;
  wr16le(buf, h + VNET_HDR_LEN_FIELD, hdrLen);
  wr16le(buf, h + VNET_GSO_SIZE, gsoSize);
  wr16le(buf, h + VNET_CSUM_START, partial ? csumStart : 0);
  wr16le(buf, h + VNET_CSUM_OFFSET, partial ? csumOffset : 0);
  wr16le(buf, h + VNET_NUM_BUFFERS, 0);
  return VNET_HDR_LEN;
}

/** A zeroed header at h (complete frame, no offload). */
export function clearVnetHdr(buf: Uint8Array, h: number): void {
  buf.fill(0, h, h + VNET_HDR_LEN);
}

/** Offload state of an IPv4 datagram while it crosses the router, independent of link headers
 *  (they differ in length between links): csumStart counts from the IPv4 header, -1 = the L4
 *  checksum is complete. Reusable; nothing is allocated per packet. */
export class Offload {
  gsoType = 0;
  gsoSize = 0;
  csumStart = -1;
  csumOffset = 0;

  /** No offload: a complete datagram. */
  clear(): this {
    this.gsoType = 0; this.gsoSize = 0; this.csumStart = -1; this.csumOffset = 0;
    return this;
  }

  set(gsoType: number, gsoSize: number, csumStart: number, csumOffset: number): this {
    this.gsoType = gsoType; this.gsoSize = gsoSize; this.csumStart = csumStart; this.csumOffset = csumOffset;
    return this;
  }

  /** Write the header at buf[h] for a frame whose link header is `ehl` bytes and whose IPv4
   *  datagram (at l3 in buf) carries L4 headers of l4HeaderLen bytes after its IPv4 header of
   *  ipHeaderLen bytes. */
  writeHdr(buf: Uint8Array, h: number, ehl: number, ipHeaderLen: number, l4HeaderLen: number): void {
    const partial = this.csumStart >= 0;
    emitVnetHdr(buf, h, partial ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0, this.gsoType,
      this.gsoType !== VIRTIO_NET_HDR_GSO_NONE ? ehl + ipHeaderLen + l4HeaderLen : 0, this.gsoSize,
      partial ? this.csumStart + ehl : 0, this.csumOffset);
  }
}
