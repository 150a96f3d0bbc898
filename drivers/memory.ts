// In-process links for tests and benchmarks. memoryPair() returns two connected endpoints; a
// frame sent on one is copied into the other's inbox and delivered to its onRx in a batch
// when pump() runs (never synchronously inside send(), so a router answering a frame cannot
// recurse into its sender). Inboxes are double-buffered slabs: frames sent while a batch is
// being delivered land in the other buffer. Each frame keeps HEADROOM free bytes before it
// (plus the virtio_net_hdr on vnetHdr links), as TAP slabs do, so receivers can add a VLAN
// tag in place. Deterministic: delivery happens only in pump() (or on setImmediate with
// `auto`). The inbox is bounded: frames beyond it count as txDropped on the sender.

import type { FrameBatch, Link, LinkStats } from './link.js';
import { VNET_HDR_LEN } from '../stack/wire/virtio.js';

export const MEMORY_HEADROOM = 64;

export interface MemoryLinkOptions {
  mtu?: number;
  vnetHdr?: boolean;
  /** Inbox size in frames and bytes. */
  queueFrames?: number;
  queueBytes?: number;
  /** Deliver on setImmediate after a send instead of waiting for pump(). */
  auto?: boolean;
}

class Inbox {
  readonly buf: Uint8Array;
  readonly off: Int32Array;
  readonly len: Int32Array;
  count = 0;
  pos = 0;
  constructor(bytes: number, frames: number) {
    this.buf = new Uint8Array(bytes);
    this.off = new Int32Array(frames);
    this.len = new Int32Array(frames);
  }
}

export class MemoryLink implements Link {
  readonly stats: LinkStats = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, txDropped: 0, rxErrors: 0 };
  readonly mtu: number;
  readonly vnetHdr: boolean;
  peer: MemoryLink | null = null;
  private onRx: ((b: FrameBatch) => void) | null = null;
  private readonly boxes: [Inbox, Inbox];
  private cur = 0;
  private readonly batch: FrameBatch;
  private readonly auto: boolean;
  private scheduled = false;
  private closed = false;

  constructor(readonly name: string, readonly mac: Uint8Array, opts: MemoryLinkOptions = {}) {
    this.mtu = opts.mtu ?? 1500;
    this.vnetHdr = opts.vnetHdr ?? false;
    const frames = opts.queueFrames ?? 1024;
    const bytes = opts.queueBytes ?? 4 * 1024 * 1024;
    this.boxes = [new Inbox(bytes, frames), new Inbox(bytes, frames)];
    this.batch = { buf: this.boxes[0].buf, off: this.boxes[0].off, len: this.boxes[0].len, count: 0 };
    this.auto = opts.auto ?? false;
  }

  start(onRx: (batch: FrameBatch) => void): void { this.onRx = onRx; }

  close(): void { this.closed = true; this.onRx = null; }

  /** Frames waiting in this endpoint's inbox. */
  get pending(): number { return this.boxes[this.cur].count; }

  send(buf: Uint8Array, off: Int32Array, len: Int32Array, count: number): number {
    const peer = this.peer;
    if (!peer || this.closed || peer.closed) { this.stats.txDropped += count; return 0; }
    const sent = peer.accept(buf, off, len, count, this.vnetHdr);
    this.stats.txPackets += sent;
    for (let i = 0; i < sent; i++) this.stats.txBytes += len[i];
    this.stats.txDropped += count - sent;
    return sent;
  }

  private accept(buf: Uint8Array, off: Int32Array, len: Int32Array, count: number, senderVnet: boolean): number {
    const box = this.boxes[this.cur];
    const hdr = this.vnetHdr ? VNET_HDR_LEN : 0;
    let i = 0;
    for (; i < count; i++) {
      const l = len[i];
      const start = box.pos + MEMORY_HEADROOM + hdr;
      if (box.count === box.off.length || start + l > box.buf.length) break;
      if (hdr) {
        if (senderVnet && off[i] >= VNET_HDR_LEN) box.buf.set(buf.subarray(off[i] - VNET_HDR_LEN, off[i]), start - VNET_HDR_LEN);
        else box.buf.fill(0, start - VNET_HDR_LEN, start);
      }
      box.buf.set(buf.subarray(off[i], off[i] + l), start);
      box.off[box.count] = start;
      box.len[box.count] = l;
      box.count++;
      box.pos = (start + l + 7) & ~7;
    }
    if (i > 0 && this.auto && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => { this.scheduled = false; this.pump(); });
    }
    return i;
  }

  /** Deliver everything in the inbox as one batch; returns the number of frames delivered. */
  pump(): number {
    const box = this.boxes[this.cur];
    const n = box.count;
    if (n === 0) return 0;
    this.cur ^= 1;
    const next = this.boxes[this.cur];
    next.count = 0; next.pos = 0;
    const b = this.batch;
    b.buf = box.buf; b.off = box.off; b.len = box.len; b.count = n;
    this.stats.rxPackets += n;
    for (let i = 0; i < n; i++) this.stats.rxBytes += box.len[i];
    try {
      if (this.onRx) this.onRx(b);
    } finally {
      box.count = 0; box.pos = 0;
    }
    return n;
  }
}

/** Two connected endpoints. */
export function memoryPair(nameA: string, macA: Uint8Array, nameB: string, macB: Uint8Array,
  opts: MemoryLinkOptions = {}): [MemoryLink, MemoryLink] {
  const a = new MemoryLink(nameA, macA, opts);
  const b = new MemoryLink(nameB, macB, opts);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** Pump every link until no frames are left in flight (bounded rounds); returns frames moved. */
export function pumpAll(links: readonly MemoryLink[], maxRounds = 100): number {
  let total = 0;
  for (let r = 0; r < maxRounds; r++) {
    let moved = 0;
    for (const l of links) moved += l.pump();
    total += moved;
    if (moved === 0) break;
  }
  return total;
}
