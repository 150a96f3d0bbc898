// Loads the N-API link addon (drivers/native/build/Release/nacl_link.node). The package root
// is found by walking up from this file to the package.json named "nacl-router", so the same
// code works from the TypeScript sources (drivers/native.ts) and from dist/drivers/native.js.
// The addon is loaded once, on first use; a missing build is a clear error, not a crash.
// Also holds NativeBackedLink, the slab/batch plumbing TapLink and PacketLink share.

import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FrameBatch, Link, LinkStats } from './link.js';
import { parseMac } from '../stack/wire/ethernet.js';
import { VNET_HDR_LEN } from '../stack/wire/virtio.js';

export const OPEN_VNET_HDR = 1;
export const OPEN_MULTI_QUEUE = 2;

/** Counter slots in the Float64Array the addon updates in place. */
export const ST_RX_PACKETS = 0;
export const ST_RX_BYTES = 1;
export const ST_TX_PACKETS = 2;
export const ST_TX_BYTES = 3;
export const ST_TX_DROPPED = 4;
export const ST_RX_ERRORS = 5;
export const ST_COUNT = 6;

/** One open TAP fd or AF_PACKET socket. */
export interface NativeLink {
  readonly name: string;
  readonly ifindex: number;
  readonly fd: number;
  readonly vnetHdr: boolean;
  /** Poll for readability; on each wakeup read up to `batch` frames into slot i of `slab`
   * (frame at i*slot + headroom, virtio header before it when vnetHdr) and call cb(count);
   * repeat while batches come back full, at most `drain` times per wakeup (default 1). */
  start(slab: ArrayBuffer, slot: number, headroom: number, off: Int32Array, len: Int32Array,
    batch: number, cb: (count: number) => void, drain?: number): void;
  send(buf: Uint8Array, off: Int32Array, len: Int32Array, count: number): number;
  close(): void;
  kernelMac(): Uint8Array;
  setCarrier(on: boolean): void;
}

export interface NativeAddon {
  openTap(name: string, flags: number, stats: Float64Array): NativeLink;
  openPacket(ifname: string, flags: number, stats: Float64Array): NativeLink;
  ifUp(name: string, up: boolean): void;
  ifGetMtu(name: string): number;
  ifSetMtu(name: string, mtu: number): void;
  ifSetTxQueueLen(name: string, qlen: number): void;
  ifGetMac(name: string): Uint8Array;
  ifIndex(name: string): number;
  /** Poll mode: keep the event loop from sleeping (zero-timeout polls); returns the previous state. */
  busyPoll(on: boolean): boolean;
}

const ADDON_PATH = join('drivers', 'native', 'build', 'Release', 'nacl_link.node');

export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'nacl-router') return dir;
      } catch {
        // unreadable package.json: keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`nacl-router: package root not found above ${from}`);
    dir = up;
  }
}

let addon: NativeAddon | undefined;

export function nativeAddon(): NativeAddon {
  if (addon) return addon;
  const root = packageRoot();
  const file = join(root, ADDON_PATH);
  if (!existsSync(file)) {
    throw new Error(`native link driver not built (${file} missing): run \`npm run install\` ` +
      'in the package root (needs gcc, make and the Node headers)');
  }
  addon = createRequire(import.meta.url)(file) as NativeAddon;
  return addon;
}

/** A locally administered unicast MAC derived from a name (FNV-1a), stable across runs. */
export function macFromName(name: string): Uint8Array {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < name.length; i++) {
    h1 = Math.imul(h1 ^ name.charCodeAt(i), 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ name.charCodeAt(i), 0x811c9dc5) >>> 0;
  }
  return new Uint8Array([0x02 | ((h2 >>> 8) & 0xfc), h1 >>> 24, (h1 >>> 16) & 0xff, (h1 >>> 8) & 0xff, h1 & 0xff, h2 & 0xff]);
}

/** A link's MAC option: "aa:bb:cc:dd:ee:ff" (or '-' separated) or 6 bytes; throws when bad. */
export function macOption(mac: string | Uint8Array): Uint8Array {
  if (typeof mac !== 'string') {
    if (mac.length !== 6) throw new Error(`MAC must be 6 bytes, got ${mac.length}`);
    return Uint8Array.from(mac);
  }
  const m = parseMac(mac);
  if (m === null) throw new Error(`bad MAC address '${mac}'`);
  return m;
}

/** Options shared by the native-backed links. */
export interface NativeLinkOptions {
  /** Router-side MAC (string or 6 bytes); default: derived from the interface name. */
  mac?: string | Uint8Array;
  /** Frames read per wakeup (1..1024, default 64). */
  batch?: number;
  /** Bytes per receive slot; default fits a 64 KB super-frame with vnetHdr, else the MTU. */
  slotSize?: number;
  /** Bytes before each received frame in its slot (>= 12 with vnetHdr; default 64). */
  headroom?: number;
  /** Most batches delivered per readiness wakeup while they come back full (1..64, default 4). */
  batchesPerWakeup?: number;
}

export const DEFAULT_BATCH = 64;
export const DEFAULT_HEADROOM = 64;
export const DEFAULT_BATCHES_PER_WAKEUP = 4;
const GSO_FRAME_MAX = 65536 + 64;

class CounterStats implements LinkStats {
  constructor(private readonly c: Float64Array) {}
  get rxPackets(): number { return this.c[ST_RX_PACKETS]!; }
  get rxBytes(): number { return this.c[ST_RX_BYTES]!; }
  get txPackets(): number { return this.c[ST_TX_PACKETS]!; }
  get txBytes(): number { return this.c[ST_TX_BYTES]!; }
  get txDropped(): number { return this.c[ST_TX_DROPPED]!; }
  get rxErrors(): number { return this.c[ST_RX_ERRORS]!; }
  toJSON(): LinkStats {
    const { rxPackets, rxBytes, txPackets, txBytes, txDropped, rxErrors } = this;
    return { rxPackets, rxBytes, txPackets, txBytes, txDropped, rxErrors };
  }
}

/** Re-throws a native error with a hint appended, keeping code/errno/syscall. */
export function explain(err: unknown, hint: (e: NodeJS.ErrnoException) => string | undefined): never {
  if (err instanceof Error) {
    const e = err as NodeJS.ErrnoException;
    const h = hint(e);
    if (h) e.message = `${e.message} (${h})`;
  }
  throw err;
}

export function privilegeHint(e: NodeJS.ErrnoException): string | undefined {
  if (e.code === 'EPERM' || e.code === 'EACCES') {
    const uid = process.geteuid?.();
    return uid === 0 ? 'CAP_NET_ADMIN is missing' : 'nacl-router needs root or CAP_NET_ADMIN';
  }
  return undefined;
}

/**
 * The batch plumbing TapLink and PacketLink share: a receive slab of `batch` fixed-size
 * slots owned by this object, offsets/lengths tables the addon fills, one FrameBatch object
 * reused for every callback, and counters the addon updates in place.
 */
export abstract class NativeBackedLink implements Link {
  readonly name: string;
  readonly mac: Uint8Array;
  readonly vnetHdr: boolean;
  readonly stats: LinkStats;
  readonly ifindex: number;
  readonly batch: number;
  readonly headroom: number;
  readonly batchesPerWakeup: number;
  protected readonly native: NativeLink;
  protected readonly counters: Float64Array;
  private readonly slotOpt: number | undefined;
  private mtuCache: number;
  private started = false;
  private closed = false;

  protected constructor(open: (stats: Float64Array) => NativeLink, opts: NativeLinkOptions) {
    const batch = opts.batch ?? DEFAULT_BATCH;
    if (!Number.isInteger(batch) || batch < 1 || batch > 1024) throw new RangeError(`batch must be 1..1024, got ${batch}`);
    const drain = opts.batchesPerWakeup ?? DEFAULT_BATCHES_PER_WAKEUP;
    if (!Number.isInteger(drain) || drain < 1 || drain > 64) {
      throw new RangeError(`batchesPerWakeup must be 1..64, got ${drain}`);
    }
    const mac = opts.mac !== undefined ? macOption(opts.mac) : undefined;
    this.counters = new Float64Array(ST_COUNT);
    this.native = open(this.counters);
    this.name = this.native.name;
    this.ifindex = this.native.ifindex;
    this.vnetHdr = this.native.vnetHdr;
    this.batch = batch;
    this.batchesPerWakeup = drain;
    this.headroom = opts.headroom ?? DEFAULT_HEADROOM;
    if (this.headroom < (this.vnetHdr ? VNET_HDR_LEN : 0)) {
      this.native.close();
      throw new RangeError(`headroom must be >= ${VNET_HDR_LEN} with vnetHdr`);
    }
    this.slotOpt = opts.slotSize;
    this.mac = mac ?? macFromName(this.name);
    this.stats = new CounterStats(this.counters);
    let mtu = 1500;
    try {
      mtu = nativeAddon().ifGetMtu(this.name);
    } catch {
      // not visible in this namespace: keep the Ethernet default
    }
    this.mtuCache = mtu;
  }

  /** Last MTU read or set through this object (the kernel's value at open). */
  get mtu(): number {
    return this.mtuCache;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes per receive slot for the current settings. */
  get slotSize(): number {
    if (this.slotOpt !== undefined) return this.slotOpt;
    const frame = this.vnetHdr ? GSO_FRAME_MAX : Math.max(2048, this.mtuCache + 32);
    return (this.headroom + frame + 63) & ~63;
  }

  start(onRx: (batch: FrameBatch) => void): void {
    if (this.closed) throw new Error(`${this.name}: link is closed`);
    if (this.started) throw new Error(`${this.name}: link already started`);
    const slot = this.slotSize;
    const slab = new ArrayBuffer(slot * this.batch);
    const rx: FrameBatch = {
      buf: new Uint8Array(slab),
      off: new Int32Array(this.batch),
      len: new Int32Array(this.batch),
      count: 0,
    };
    this.native.start(slab, slot, this.headroom, rx.off, rx.len, this.batch, (count: number) => {
      rx.count = count;
      onRx(rx);
    }, this.batchesPerWakeup);
    this.started = true;
  }

  send(buf: Uint8Array, off: Int32Array, len: Int32Array, count: number): number {
    return this.native.send(buf, off, len, count);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close();
  }

  /** Administrative up/down of the interface (must be visible in this namespace). */
  setUp(up: boolean): void {
    nativeAddon().ifUp(this.name, up);
  }

  setMtu(mtu: number): void {
    nativeAddon().ifSetMtu(this.name, mtu);
    this.mtuCache = mtu;
  }

  /** The kernel-side MAC of the interface (not the router's own `mac`). */
  kernelMac(): Uint8Array {
    return this.native.kernelMac();
  }
}
