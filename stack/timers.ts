// Coarse timer wheel driven by the loop: tick(nowMs) fires every timer whose deadline has
// passed. Timers are nodes in typed arrays (no object or closure per timer); each carries a
// handler kind (registered once) and two numeric arguments. Capacity is fixed: schedule()
// returns -1 when full and the caller counts it. Precision is one slot (slotMs).

export type TimerHandler = (a: number, b: number, now: number) => void;

export class TimerWheel {
  private readonly slotMs: number;
  private readonly mask: number;
  private readonly heads: Int32Array;
  private readonly next: Int32Array;
  private readonly kind: Int32Array;
  private readonly argA: Float64Array;
  private readonly argB: Float64Array;
  private readonly due: Float64Array;
  private freeHead = 0;
  private readonly handlers: TimerHandler[] = [];
  /** Slot number (time / slotMs) processed last. */
  private cursor = -1;
  active = 0;
  full = 0;

  /** slots is rounded up to a power of two. */
  constructor(slotMs = 100, slots = 256, capacity = 4096) {
    let n = 1;
    while (n < slots) n <<= 1;
    this.slotMs = slotMs;
    this.mask = n - 1;
    this.heads = new Int32Array(n).fill(-1);
    this.next = new Int32Array(capacity);
    this.kind = new Int32Array(capacity);
    this.argA = new Float64Array(capacity);
    this.argB = new Float64Array(capacity);
    this.due = new Float64Array(capacity);
    this.clear();
  }

  /** Disarm every timer (handlers stay registered). */
  clear(): void {
    const capacity = this.next.length;
    this.heads.fill(-1);
    this.kind.fill(-1);
    for (let i = 0; i < capacity; i++) this.next[i] = i + 1 < capacity ? i + 1 : -1;
    this.freeHead = capacity === 0 ? -1 : 0;
    this.cursor = -1;
    this.active = 0;
  }

  register(fn: TimerHandler): number {
    this.handlers.push(fn);
    return this.handlers.length - 1;
  }

  /** Arm a timer; returns its id or -1 when the wheel is full. */
  schedule(kind: number, a: number, b: number, atMs: number): number {
    const id = this.freeHead;
    if (id < 0) { this.full++; return -1; }
    this.freeHead = this.next[id];
    this.kind[id] = kind; this.argA[id] = a; this.argB[id] = b; this.due[id] = atMs;
    // Rounded up: when tick() reaches the slot, the deadline has passed.
    let slot = Math.ceil(atMs / this.slotMs);
    if (this.cursor < 0) this.cursor = slot - 1;
    else if (slot <= this.cursor) slot = this.cursor + 1;
    const s = slot & this.mask;
    this.next[id] = this.heads[s];
    this.heads[s] = id;
    this.active++;
    return id;
  }

  /** Disarm (lazy: the node is reclaimed when its slot comes round). */
  cancel(id: number): void {
    if (id >= 0 && id < this.kind.length && this.kind[id] >= 0) { this.kind[id] = -1; this.active--; }
  }

  tick(nowMs: number): void {
    const target = Math.floor(nowMs / this.slotMs);
    if (this.cursor < 0) this.cursor = target - 1;
    let from = this.cursor + 1;
    // After a long pause one full round visits every slot.
    if (target - from > this.mask) from = target - this.mask;
    for (let slot = from; slot <= target; slot++) this.runSlot(slot & this.mask, nowMs);
    this.cursor = target;
  }

  private runSlot(s: number, nowMs: number): void {
    let id = this.heads[s];
    let prev = -1;
    while (id >= 0) {
      const nxt = this.next[id];
      const k = this.kind[id];
      if (k < 0 || this.due[id] <= nowMs) {
        if (prev < 0) this.heads[s] = nxt; else this.next[prev] = nxt;
        this.next[id] = this.freeHead;
        this.freeHead = id;
        if (k >= 0) {
          this.kind[id] = -1;
          this.active--;
          this.handlers[k](this.argA[id], this.argB[id], nowMs);
        }
      } else {
        prev = id;
      }
      id = nxt;
    }
  }
}
