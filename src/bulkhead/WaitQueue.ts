import type { AbortSubscription } from '../core/abort.js';
import type { Context } from '../core/context.js';

const INITIAL_CAPACITY = 16;
/** Above this capacity an emptied queue may give its memory back (see `_settled`). */
const SHRINK_ABOVE = 1024;

/**
 * @internal The FIFO queue of a {@link Bulkhead}: a growable ring buffer kept as parallel arrays
 * (one per field) rather than an object per waiter. A burst of 100,000 queued calls then allocates
 * a few arrays instead of 100,000 nodes for the garbage collector to copy around.
 *
 * Every waiter gets a sequence number (its position in the order of arrival); slot = seq & mask.
 * Removal from the middle (an abort) leaves a tombstone that the head skips later, so joining,
 * leaving and being admitted are all O(1) (amortised).
 */
export class WaitQueue {
  /** Live waiters (tombstones excluded). */
  size = 0;
  /** Sequence number of the oldest slot still held (live or tombstone). */
  private _head = 0;
  /** Sequence number the next waiter gets. */
  private _tail = 0;
  private _mask = INITIAL_CAPACITY - 1;
  /** The largest `size` since the queue was last empty. */
  private _peak = 0;
  contexts: (Context | undefined)[] = new Array(INITIAL_CAPACITY);
  nexts: number[] = new Array(INITIAL_CAPACITY).fill(0);
  resolves: (((value: unknown) => void) | undefined)[] = new Array(INITIAL_CAPACITY);
  rejects: (((error: unknown) => void) | undefined)[] = new Array(INITIAL_CAPACITY);
  deadlines: number[] = new Array(INITIAL_CAPACITY).fill(0);
  subscriptions: (AbortSubscription | undefined)[] = new Array(INITIAL_CAPACITY);

  /** Adds a waiter at the end. @returns its sequence number. */
  push(
    context: Context,
    next: number,
    resolve: (value: unknown) => void,
    reject: (error: unknown) => void,
    deadline: number,
  ): number {
    if (this._tail - this._head > this._mask) this._grow();
    const seq = this._tail++;
    const i = seq & this._mask;
    this.contexts[i] = context;
    this.nexts[i] = next;
    this.resolves[i] = resolve;
    this.rejects[i] = reject;
    this.deadlines[i] = deadline;
    if (++this.size > this._peak) this._peak = this.size;
    return seq;
  }

  /**
   * The slot of the oldest live waiter, or -1 when none; tombstones before it are dropped.
   * Read its fields from the arrays, then {@link WaitQueue.take} it.
   */
  peek(): number {
    while (this._head < this._tail) {
      const i = this._head & this._mask;
      if (this.resolves[i] !== undefined) return i;
      this._head++;
    }
    return -1;
  }

  /** Removes the head waiter found by {@link WaitQueue.peek} (slot `i`). */
  take(i: number): void {
    this._clear(i);
    this._head++;
    this._settled();
  }

  /**
   * Finds the waiter with sequence number `seq` if it is still queued (for an abort).
   * @returns its slot, to read and then {@link WaitQueue.bury}, or -1.
   */
  locate(seq: number): number {
    if (seq < this._head) return -1;
    const i = seq & this._mask;
    if (this.resolves[i] === undefined) return -1;
    return i;
  }

  /** Removes the waiter in slot `i` (found by {@link WaitQueue.locate}), leaving a tombstone. */
  bury(i: number): void {
    this._clear(i);
    this._settled();
  }

  /** The slot of waiter `seq` (valid while it is queued). */
  slot(seq: number): number {
    return seq & this._mask;
  }

  private _clear(i: number): void {
    this.contexts[i] = undefined;
    this.resolves[i] = undefined;
    this.rejects[i] = undefined;
    this.subscriptions[i] = undefined;
    this.size--;
  }

  /**
   * After a removal: an empty queue forgets its tombstones. A large buffer is kept while bursts of
   * its size recur (regrowing it for every burst would cost more than the burst itself), and given
   * back after a busy period that used less than a quarter of it.
   */
  private _settled(): void {
    if (this.size !== 0) return;
    const peak = this._peak;
    this._peak = 0;
    if (this._mask + 1 > SHRINK_ABOVE && peak * 4 < this._mask + 1) {
      this._mask = INITIAL_CAPACITY - 1;
      this.contexts = new Array(INITIAL_CAPACITY);
      this.nexts = new Array(INITIAL_CAPACITY).fill(0);
      this.resolves = new Array(INITIAL_CAPACITY);
      this.rejects = new Array(INITIAL_CAPACITY);
      this.deadlines = new Array(INITIAL_CAPACITY).fill(0);
      this.subscriptions = new Array(INITIAL_CAPACITY);
    }
    // Only tombstones are left, and they hold no references: skip them all.
    this._head = this._tail;
  }

  /** Doubles the capacity, keeping each sequence number at `seq & mask`. */
  private _grow(): void {
    const oldMask = this._mask;
    const capacity = (oldMask + 1) * 2;
    const mask = capacity - 1;
    const contexts: (Context | undefined)[] = new Array(capacity);
    const nexts: number[] = new Array(capacity).fill(0);
    const resolves: (((value: unknown) => void) | undefined)[] = new Array(capacity);
    const rejects: (((error: unknown) => void) | undefined)[] = new Array(capacity);
    const deadlines: number[] = new Array(capacity).fill(0);
    const subscriptions: (AbortSubscription | undefined)[] = new Array(capacity);
    for (let s = this._head; s < this._tail; s++) {
      const from = s & oldMask;
      const to = s & mask;
      contexts[to] = this.contexts[from];
      nexts[to] = this.nexts[from] as number;
      resolves[to] = this.resolves[from];
      rejects[to] = this.rejects[from];
      deadlines[to] = this.deadlines[from] as number;
      subscriptions[to] = this.subscriptions[from];
    }
    this._mask = mask;
    this.contexts = contexts;
    this.nexts = nexts;
    this.resolves = resolves;
    this.rejects = rejects;
    this.deadlines = deadlines;
    this.subscriptions = subscriptions;
  }
}
