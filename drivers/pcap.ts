// Capture middleware: PcapLink wraps any Link and writes the frames it receives and/or sends
// to a classic pcap file (LINKTYPE_ETHERNET, microsecond timestamps, little endian), then
// passes them on unchanged. Records are staged in one buffer and written once per batch.
// The virtio_net_hdr of vnetHdr links is not captured (off/len describe the frame itself).
// PcapWriter is the same writer on its own, for tests and `trace` tools.

import { closeSync, openSync, writeSync } from 'node:fs';
import type { FrameBatch, Link, LinkStats } from './link.js';

// File header: magic, version 2.4, time zone, accuracy, snap length, link type.
const PCAP_MAGIC = 0;
const PCAP_VERSION_MAJOR = 4;
const PCAP_VERSION_MINOR = 6;
const PCAP_THISZONE = 8;
const PCAP_SIGFIGS = 12;
const PCAP_SNAPLEN = 16;
const PCAP_LINKTYPE = 20;
const GLOBAL_HEADER_LEN = 24;
// Record header: seconds, microseconds, captured length, original length.
const REC_TS_SEC = 0;
const REC_TS_USEC = 4;
const REC_INCL_LEN = 8;
const REC_ORIG_LEN = 12;
const RECORD_HEADER_LEN = 16;
export const LINKTYPE_ETHERNET = 1;

export class PcapWriter {
  private fd: number;
  private stage: Uint8Array;
  private dv: DataView;
  private pos = 0;
  frames = 0;

  constructor(readonly path: string, readonly snaplen = 65535, stageBytes = 1 << 20) {
    this.fd = openSync(path, 'w');
    this.stage = new Uint8Array(stageBytes);
    this.dv = new DataView(this.stage.buffer);
    const h = this.dv;
    h.setUint32(PCAP_MAGIC, 0xa1b2c3d4, true);
    h.setUint16(PCAP_VERSION_MAJOR, 2, true);
    h.setUint16(PCAP_VERSION_MINOR, 4, true);
    h.setInt32(PCAP_THISZONE, 0, true);
    h.setUint32(PCAP_SIGFIGS, 0, true);
    h.setUint32(PCAP_SNAPLEN, snaplen, true);
    h.setUint32(PCAP_LINKTYPE, LINKTYPE_ETHERNET, true);
    this.pos = GLOBAL_HEADER_LEN;
    this.flush();
  }

  /** Stage one frame; `timeMs` defaults to now. */
  write(buf: Uint8Array, off: number, len: number, timeMs = Date.now()): void {
    if (this.fd < 0) return;
    const cap = len < this.snaplen ? len : this.snaplen;
    if (this.pos + RECORD_HEADER_LEN + cap > this.stage.length) {
      this.flush();
      if (RECORD_HEADER_LEN + cap > this.stage.length) {
        this.stage = new Uint8Array(RECORD_HEADER_LEN + cap);
        this.dv = new DataView(this.stage.buffer);
      }
    }
    const sec = Math.floor(timeMs / 1000);
    const usec = Math.floor((timeMs - sec * 1000) * 1000);
    const d = this.dv, p = this.pos;
    d.setUint32(p + REC_TS_SEC, sec >>> 0, true);
    d.setUint32(p + REC_TS_USEC, usec, true);
    d.setUint32(p + REC_INCL_LEN, cap, true);
    d.setUint32(p + REC_ORIG_LEN, len, true);
    this.stage.set(buf.subarray(off, off + cap), p + RECORD_HEADER_LEN);
    this.pos = p + RECORD_HEADER_LEN + cap;
    this.frames++;
  }

  writeBatch(buf: Uint8Array, off: ArrayLike<number>, len: ArrayLike<number>, count: number): void {
    const now = Date.now();
    for (let i = 0; i < count; i++) this.write(buf, off[i], len[i], now);
    this.flush();
  }

  flush(): void {
    if (this.fd < 0 || this.pos === 0) return;
    let done = 0;
    while (done < this.pos) done += writeSync(this.fd, this.stage, done, this.pos - done);
    this.pos = 0;
  }

  close(): void {
    if (this.fd < 0) return;
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
  }
}

export interface PcapLinkOptions {
  rx?: boolean;
  tx?: boolean;
}

export class PcapLink implements Link {
  readonly writer: PcapWriter;
  private readonly rx: boolean;
  private readonly tx: boolean;

  constructor(readonly inner: Link, path: string, opts: PcapLinkOptions = {}) {
    this.writer = new PcapWriter(path);
    this.rx = opts.rx ?? true;
    this.tx = opts.tx ?? true;
  }

  get name(): string { return this.inner.name; }
  get mac(): Uint8Array { return this.inner.mac; }
  get mtu(): number { return this.inner.mtu; }
  get vnetHdr(): boolean { return this.inner.vnetHdr; }
  get stats(): LinkStats { return this.inner.stats; }

  start(onRx: (batch: FrameBatch) => void): void {
    if (!this.rx) { this.inner.start(onRx); return; }
    this.inner.start((b) => {
      this.writer.writeBatch(b.buf, b.off, b.len, b.count);
      onRx(b);
    });
  }

  send(buf: Uint8Array, off: Int32Array, len: Int32Array, count: number): number {
    const n = this.inner.send(buf, off, len, count);
    if (this.tx) this.writer.writeBatch(buf, off, len, n);
    return n;
  }

  close(): void {
    this.inner.close();
    this.writer.close();
  }
}
