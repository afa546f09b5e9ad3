/**
 * The links a node of a {@link List} carries itself. A node is in at most one list at a time
 * through these two fields; out of a list, both are `undefined`.
 */
export interface ListNode<N> {
  /** The node before this one, or `undefined` at the head (or out of the list). */
  prev: N | undefined;
  /** The node after this one, or `undefined` at the tail (or out of the list). */
  next: N | undefined;
}

/**
 * @internal The one queue of the core: an intrusive doubly-linked FIFO list. It is the queue of
 * `Semaphore` (so of `Bulkhead`, built on it), the deadline list of `Timeout`, and each
 * signal's list of abort subscriptions (`onAbort`).
 *
 * **Why this shape.** Every queue here needs the same three things, each in O(1): join at the
 * tail, leave at the head (a permit handed on, a deadline reached), and leave from the middle (a
 * caller aborts, a call settles before its deadline). An intrusive doubly-linked list does all
 * three with no amortisation and no tombstones, and:
 * - **It holds exactly its live nodes.** There is no backing store to grow or shrink: an idle
 *   queue after any burst is two pointers and a counter. (0.1.0's Bulkhead kept a ring buffer that
 *   grew with a burst and never shrank: 47.7 MiB after a 1,000,000-call burst.)
 * - **It allocates nothing of its own.** The node is the object each entry needs anyway (an
 *   acquire's waiter, a call's timeout scope, a subscription); the links are two more fields on
 *   it. Where entries have no object of their own — a `Bulkhead`'s queued calls — they are
 *   grouped into batch nodes (16 to 8192 calls each): an object per queued call would cost a
 *   100,000-call burst ~35 % more time in the garbage collector (measured), and a ring of
 *   parallel arrays pays for avoiding it with growth copies, tombstones and a shrink policy.
 * - **Removal is idempotent.** {@link List.remove} of a node that is not in the list does
 *   nothing and says so, so callers keep no `queued` flag and a late abort or timer that finds its
 *   entry gone needs no bookkeeping of its own.
 *
 * Speed notes, written once here: the fields are plain properties set in constructors (stable
 * object shapes for V8's inline caches, on the list and on each node class); membership is read
 * from the links themselves (`prev !== undefined || head === node`) rather than a search; nothing
 * here closes over anything or allocates.
 */
export class List<N extends ListNode<N>> {
  /** The oldest node, or `undefined` when empty. */
  head: N | undefined = undefined;
  /** The newest node, or `undefined` when empty. */
  tail: N | undefined = undefined;
  /** How many nodes are in the list. */
  size = 0;

  /** Adds `node` (not in any list) at the tail. */
  push(node: N): void {
    const tail = this.tail;
    if (tail === undefined) this.head = node;
    else {
      tail.next = node;
      node.prev = tail;
    }
    this.tail = node;
    this.size++;
  }

  /** Removes and returns the head, or `undefined` when empty. */
  shift(): N | undefined {
    const head = this.head;
    if (head === undefined) return undefined;
    const next = head.next;
    this.head = next;
    if (next === undefined) this.tail = undefined;
    else {
      next.prev = undefined;
      head.next = undefined;
    }
    this.size--;
    return head;
  }

  /** Whether `node` is in this list (given that a node is in at most one list at a time). */
  has(node: N): boolean {
    return node.prev !== undefined || this.head === node;
  }

  /**
   * Takes `node` out of the list, wherever it is.
   * @returns `false` (and does nothing) when it was not in the list.
   */
  remove(node: N): boolean {
    const { prev, next } = node;
    if (prev === undefined) {
      if (this.head !== node) return false;
      this.head = next;
    } else {
      prev.next = next;
      node.prev = undefined;
    }
    if (next === undefined) this.tail = prev;
    else {
      next.prev = prev;
      node.next = undefined;
    }
    this.size--;
    return true;
  }
}
