// Stack counters in typed arrays: per-Iface traffic and ARP statistics, drops by reason per
// Iface (plus one row for frames not attributable to an Iface), and a ledger of the fate of
// every received frame: rx = forwarded + delivered + dropped + queued (waiting for ARP).
// snapshot() turns them into a plain object for `show` and metrics (not for the hot path).

import { REASON_COUNT, REASON_NAMES } from './wire/reason.js';

export const C_RX_PACKETS = 0;
export const C_RX_BYTES = 1;
export const C_TX_PACKETS = 2;
export const C_TX_BYTES = 3;
export const C_FORWARDED = 4;
export const C_DELIVERED = 5;
export const C_GENERATED = 6;
export const C_DROPPED = 7;
export const C_ARP_REQUESTS_RX = 8;
export const C_ARP_REPLIES_RX = 9;
export const C_ARP_REQUESTS_TX = 10;
export const C_ARP_REPLIES_TX = 11;
export const C_ARP_LEARNED = 12;
export const C_ARP_QUEUED = 13;
export const C_ARP_QUEUE_SENT = 14;
export const C_ARP_TIMEOUTS = 15;
export const C_FIELDS = 16;

const FIELD_NAMES = [
  'rxPackets', 'rxBytes', 'txPackets', 'txBytes', 'forwarded', 'delivered', 'generated', 'dropped',
];
const ARP_FIELD_NAMES = ['requestsRx', 'repliesRx', 'requestsTx', 'repliesTx', 'learned', 'queued', 'queueSent', 'timeouts'];

/** Per-link counters (Counters.link: L_FIELDS numbers per link, in link order). */
export const L_RX_PACKETS = 0;
export const L_RX_BYTES = 1;
export const L_TX_PACKETS = 2;
export const L_TX_BYTES = 3;
export const L_TX_FAILED = 4;
export const L_FIELDS = 5;
const LINK_FIELD_NAMES = ['rxPackets', 'rxBytes', 'txPackets', 'txBytes', 'txFailed'] as const;

/** ICMP messages the router generated (Counters.icmp). */
export const ICMP_SENT = 0;
export const ICMP_RATE_LIMITED = 1;

/** The fate ledger (Counters.fate). */
export const F_RX = 0;
export const F_FORWARDED = 1;
export const F_DELIVERED = 2;
export const F_DROPPED = 3;
export const F_QUEUED = 4;

export interface IfaceCounters {
  name: string;
  rxPackets: number; rxBytes: number; txPackets: number; txBytes: number;
  forwarded: number; delivered: number; generated: number; dropped: number;
  arp: Record<string, number>;
  drops: Record<string, number>;
}

export interface StackCounters {
  ifaces: IfaceCounters[];
  /** Drops by reason over all Ifaces and unattributed frames. */
  drops: Record<string, number>;
  /** Drops of frames that matched no Iface (unknown VLAN, truncated Ethernet). */
  unattributed: Record<string, number>;
  fate: { rx: number; forwarded: number; delivered: number; dropped: number; queued: number };
  icmp: { sent: number; rateLimited: number };
  links: Array<{ rxPackets: number; rxBytes: number; txPackets: number; txBytes: number; txFailed: number }>;
}

export class Counters {
  readonly n: number;
  readonly iface: Float64Array;
  /** Row n is for unattributed frames. */
  readonly drops: Float64Array;
  readonly fate = new Float64Array(5);
  /** ICMP_SENT, ICMP_RATE_LIMITED. */
  readonly icmp = new Float64Array(2);
  /** L_FIELDS per link. */
  readonly link: Float64Array;

  constructor(readonly names: readonly string[], links: number) {
    this.n = names.length;
    this.iface = new Float64Array(this.n * C_FIELDS);
    this.drops = new Float64Array((this.n + 1) * REASON_COUNT);
    this.link = new Float64Array(links * L_FIELDS);
  }

  /** Everything back to zero (after the warm-up). */
  reset(): void {
    this.iface.fill(0); this.drops.fill(0); this.fate.fill(0); this.icmp.fill(0); this.link.fill(0);
  }

  /** Add to field L_* of link li. */
  linkAdd(li: number, field: number, v: number): void { this.link[li * L_FIELDS + field] += v; }

  add(ifx: number, field: number, v: number): void { this.iface[ifx * C_FIELDS + field] += v; }
  get(ifx: number, field: number): number { return this.iface[ifx * C_FIELDS + field]; }

  // ---- the fate of a received frame (each frame ends in exactly one of these) ----

  /** Reason of the last received frame dropped (what `trace` reports). */
  lastFrameReason = 0;

  /** A received frame dropped for `reason` (ifx -1 = unattributed). */
  dropFrame(ifx: number, reason: number): void {
    this.drop(ifx, reason);
    this.fate[F_DROPPED]++;
    this.lastFrameReason = reason;
  }

  /** A received frame delivered to the router itself on Iface ifx. */
  deliverFrame(ifx: number): void {
    this.iface[ifx * C_FIELDS + C_DELIVERED]++;
    this.fate[F_DELIVERED]++;
  }

  /** A received frame forwarded out of Iface ox. */
  forwardFrame(ox: number): void {
    this.iface[ox * C_FIELDS + C_FORWARDED]++;
    this.fate[F_FORWARDED]++;
  }

  /** Count a drop (of a received frame or of one the router generated); ifx -1 = unattributed. */
  drop(ifx: number, reason: number): void {
    const row = ifx < 0 || ifx >= this.n ? this.n : ifx;
    this.drops[row * REASON_COUNT + reason]++;
    if (row < this.n) this.iface[row * C_FIELDS + C_DROPPED]++;
  }

  dropCount(reason: number, ifx = -2): number {
    if (ifx === -2) {
      let s = 0;
      for (let r = 0; r <= this.n; r++) s += this.drops[r * REASON_COUNT + reason];
      return s;
    }
    const row = ifx < 0 ? this.n : ifx;
    return this.drops[row * REASON_COUNT + reason];
  }

  snapshot(): StackCounters {
    const reasons = (row: number): Record<string, number> => {
      const o: Record<string, number> = {};
      for (let r = 1; r < REASON_COUNT; r++) {
        const v = row < 0 ? this.dropCount(r) : this.drops[row * REASON_COUNT + r];
        if (v) o[REASON_NAMES[r]] = v;
      }
      return o;
    };
    const ifaces: IfaceCounters[] = [];
    for (let i = 0; i < this.n; i++) {
      const base = i * C_FIELDS;
      const o: Record<string, unknown> = { name: this.names[i] };
      for (let f = 0; f < FIELD_NAMES.length; f++) o[FIELD_NAMES[f]] = this.iface[base + f];
      const arp: Record<string, number> = {};
      for (let f = 0; f < ARP_FIELD_NAMES.length; f++) arp[ARP_FIELD_NAMES[f]] = this.iface[base + C_ARP_REQUESTS_RX + f];
      o.arp = arp;
      o.drops = reasons(i);
      ifaces.push(o as unknown as IfaceCounters);
    }
    const links: StackCounters['links'] = [];
    for (let l = 0; l < this.link.length / L_FIELDS; l++) {
      const o: Record<string, number> = {};
      for (let f = 0; f < L_FIELDS; f++) o[LINK_FIELD_NAMES[f]] = this.link[l * L_FIELDS + f];
      links.push(o as StackCounters['links'][number]);
    }
    return {
      ifaces,
      drops: reasons(-1),
      unattributed: reasons(this.n),
      fate: { rx: this.fate[F_RX], forwarded: this.fate[F_FORWARDED], delivered: this.fate[F_DELIVERED], dropped: this.fate[F_DROPPED], queued: this.fate[F_QUEUED] },
      icmp: { sent: this.icmp[ICMP_SENT], rateLimited: this.icmp[ICMP_RATE_LIMITED] },
      links,
    };
  }
}
