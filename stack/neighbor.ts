// Per-Iface ARP cache and the bounded queue of datagrams waiting for resolution.
// Cache: open addressing with linear probing over typed arrays keyed by the IPv4 address.
// Dead slots (failed or expired entries) are reused by inserts; when live + dead slots pass
// 3/4 of capacity the table is rebuilt with live entries only; if it is still full, inserts
// fail and the caller drops and counts. Pending queue: `limit` fixed slots, each holding one
// IPv4 datagram (not the Ethernet header) plus its offload metadata; full = drop and count.

import type { Offload } from './wire/virtio.js';

export const N_EMPTY = 0;
export const N_INCOMPLETE = 1;
export const N_REACHABLE = 2;
export const N_FAILED = 3;

/** The current time (ms), read where it is needed: passed as an object, a time (a double)
 *  never has to be boxed on the packet path. */
export interface Now { readonly now: number }

/** Largest datagram a pending slot holds (GSO super-frames are not queued). */
export const PENDING_SLOT = 2048;

/** What a pending slot holds (pendKind): free, a forwarded datagram (it counts in the fate
 *  ledger as queued), or one the router generated. */
export const PEND_FREE = 0;
export const PEND_FORWARDED = 1;
export const PEND_LOCAL = 2;

export class NeighborTable {
  readonly cap: number;
  private readonly mask: number;
  readonly ip: Uint32Array;
  readonly state: Uint8Array;
  readonly mac: Uint8Array;
  readonly expires: Float64Array;
  readonly retries: Uint8Array;
  /** Non-empty slots (live + dead). */
  used = 0;

  // Pending queue.
  readonly limit: number;
  readonly pendBuf: Uint8Array;
  readonly pendIp: Uint32Array;
  readonly pendLen: Int32Array;
  /** PEND_FREE, PEND_FORWARDED or PEND_LOCAL. */
  readonly pendKind: Uint8Array;
  readonly pendGsoType: Uint8Array;
  readonly pendGsoSize: Uint16Array;
  /** csum_start relative to the IPv4 header; -1 = no partial checksum. */
  readonly pendCsumStart: Int32Array;
  readonly pendCsumOffset: Uint16Array;
  pendCount = 0;

  constructor(capacity = 1024, queueLimit = 64) {
    let n = 16;
    while (n < capacity) n <<= 1;
    this.cap = n;
    this.mask = n - 1;
    this.ip = new Uint32Array(n);
    this.state = new Uint8Array(n);
    this.mac = new Uint8Array(n * 6);
    this.expires = new Float64Array(n);
    this.retries = new Uint8Array(n);
    this.limit = queueLimit;
    this.pendBuf = new Uint8Array(queueLimit * PENDING_SLOT);
    this.pendIp = new Uint32Array(queueLimit);
    this.pendLen = new Int32Array(queueLimit);
    this.pendKind = new Uint8Array(queueLimit);
    this.pendGsoType = new Uint8Array(queueLimit);
    this.pendGsoSize = new Uint16Array(queueLimit);
    this.pendCsumStart = new Int32Array(queueLimit);
    this.pendCsumOffset = new Uint16Array(queueLimit);
  }

  private hash(ip: number): number {
    return (Math.imul(ip, 0x9e3779b1) >>> 16) & this.mask;
  }

  /** Slot of `ip`, or -1. */
  find(ip: number): number {
    let i = this.hash(ip);
    for (let n = 0; n < this.cap; n++) {
      const s = this.state[i];
      if (s === N_EMPTY) return -1;
      if (this.ip[i] === ip && s !== N_FAILED) return i;
      i = (i + 1) & this.mask;
    }
    return -1;
  }

  /** Slot holding a usable MAC for `ip` at time t.now, or -1. */
  resolved(ip: number, t: Now): number {
    const i = this.find(ip);
    return i >= 0 && this.state[i] === N_REACHABLE && this.expires[i] > t.now ? i : -1;
  }

  private dead(i: number, now: number): boolean {
    const s = this.state[i];
    return s === N_FAILED || (s === N_REACHABLE && this.expires[i] <= now && !this.hasPending(this.ip[i]));
  }

  /** Find or create the slot for `ip` (new slots are N_INCOMPLETE); -1 when full. */
  insert(ip: number, now: number): number {
    const f = this.find(ip);
    if (f >= 0) return f;
    if (this.used >= (this.cap * 3) >>> 2) this.rebuild(now);
    let i = this.hash(ip);
    for (let n = 0; n < this.cap; n++) {
      const s = this.state[i];
      if (s === N_EMPTY) {
        if (this.used >= (this.cap * 3) >>> 2) return -1;
        this.used++;
        break;
      }
      if (this.dead(i, now)) break;
      i = (i + 1) & this.mask;
    }
    this.ip[i] = ip;
    this.state[i] = N_INCOMPLETE;
    this.expires[i] = 0;
    this.retries[i] = 0;
    return i;
  }

  /** Record `ip` at MAC src[soff..+6]; returns the slot or -1 when full. */
  learn(ip: number, src: Uint8Array, soff: number, now: number, ttlMs: number): number {
    const i = this.insert(ip, now);
    if (i < 0) return -1;
    const m = i * 6;
    for (let k = 0; k < 6; k++) this.mac[m + k] = src[soff + k];
    this.state[i] = N_REACHABLE;
    this.expires[i] = now + ttlMs;
    this.retries[i] = 0;
    return i;
  }

  /** Mark an entry failed (its slot becomes reusable). */
  fail(i: number): void { this.state[i] = N_FAILED; }

  private rebuild(now: number): void {
    const n = this.cap;
    const ip = this.ip.slice(), st = this.state.slice(), mac = this.mac.slice(), ex = this.expires.slice(), rt = this.retries.slice();
    const keep = new Uint8Array(n);
    for (let i = 0; i < n; i++) keep[i] = st[i] !== N_EMPTY && !this.dead(i, now) ? 1 : 0;
    this.state.fill(N_EMPTY);
    this.used = 0;
    for (let i = 0; i < n; i++) {
      if (!keep[i]) continue;
      let j = this.hash(ip[i]);
      while (this.state[j] !== N_EMPTY) j = (j + 1) & this.mask;
      this.ip[j] = ip[i]; this.state[j] = st[i]; this.expires[j] = ex[i]; this.retries[j] = rt[i];
      for (let k = 0; k < 6; k++) this.mac[j * 6 + k] = mac[i * 6 + k];
      this.used++;
    }
  }

  live(now: number): number {
    let c = 0;
    for (let i = 0; i < this.cap; i++) if (this.state[i] === N_REACHABLE && this.expires[i] > now) c++;
    return c;
  }

  hasPending(ip: number): boolean {
    if (this.pendCount === 0) return false;
    for (let q = 0; q < this.limit; q++) if (this.pendKind[q] !== PEND_FREE && this.pendIp[q] === ip) return true;
    return false;
  }

  /** A free pending slot, or -1 when the queue is full. */
  freeSlot(): number {
    if (this.pendCount >= this.limit) return -1;
    for (let q = 0; q < this.limit; q++) if (this.pendKind[q] === PEND_FREE) return q;
    return -1;
  }

  /** Copy a datagram and its offload state into pending slot q (caller checked
   *  len <= PENDING_SLOT). */
  enqueue(q: number, ip: number, kind: number, src: Uint8Array, off: number, len: number, o: Offload): void {
    const d = this.pendBuf, base = q * PENDING_SLOT;
    for (let k = 0; k < len; k++) d[base + k] = src[off + k];
    this.pendIp[q] = ip;
    this.pendLen[q] = len;
    this.pendKind[q] = kind;
    this.pendGsoType[q] = o.gsoType;
    this.pendGsoSize[q] = o.gsoSize;
    this.pendCsumStart[q] = o.csumStart;
    this.pendCsumOffset[q] = o.csumOffset;
    this.pendCount++;
  }

  /** The offload state of pending slot q, into `o`. */
  pendOffload(q: number, o: Offload): Offload {
    return o.set(this.pendGsoType[q], this.pendGsoSize[q], this.pendCsumStart[q], this.pendCsumOffset[q]);
  }

  release(q: number): void {
    if (this.pendKind[q] !== PEND_FREE) { this.pendKind[q] = PEND_FREE; this.pendCount--; }
  }

  /** Forget every entry and queued datagram (the warm-up's reset). */
  clear(): void {
    this.state.fill(N_EMPTY);
    this.used = 0;
    this.pendKind.fill(PEND_FREE);
    this.pendCount = 0;
  }
}
