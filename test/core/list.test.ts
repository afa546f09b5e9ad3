import { describe, expect, it } from 'vitest';
import { List, type ListNode } from '../../src/core/list.js';

class Node implements ListNode<Node> {
  prev: Node | undefined = undefined;
  next: Node | undefined = undefined;
  constructor(readonly id: number) {}
}

function ids(list: List<Node>): number[] {
  const out: number[] = [];
  for (let n = list.head; n !== undefined; n = n.next) out.push(n.id);
  return out;
}

describe('core List (the one queue type)', () => {
  it('is FIFO: push at the tail, shift from the head', () => {
    const list = new List<Node>();
    expect(list.shift()).toBeUndefined();
    const nodes = [1, 2, 3].map((i) => new Node(i));
    for (const n of nodes) list.push(n);
    expect(list.size).toBe(3);
    expect(ids(list)).toEqual([1, 2, 3]);
    expect(list.shift()?.id).toBe(1);
    expect(list.shift()?.id).toBe(2);
    expect(list.shift()?.id).toBe(3);
    expect(list.shift()).toBeUndefined();
    expect(list.size).toBe(0);
    expect(list.head).toBeUndefined();
    expect(list.tail).toBeUndefined();
    // A node out of the list keeps no links (nothing for the GC to chase, and it can join again).
    for (const n of nodes) expect([n.prev, n.next]).toEqual([undefined, undefined]);
  });

  it('removes from the head, the middle and the tail in O(1); removing again does nothing', () => {
    const list = new List<Node>();
    const [a, b, c, d] = [1, 2, 3, 4].map((i) => new Node(i)) as [Node, Node, Node, Node];
    for (const n of [a, b, c, d]) list.push(n);
    expect(list.remove(b)).toBe(true);
    expect(ids(list)).toEqual([1, 3, 4]);
    expect(list.remove(b)).toBe(false);
    expect(list.remove(a)).toBe(true);
    expect(list.remove(d)).toBe(true);
    expect(ids(list)).toEqual([3]);
    expect(list.tail).toBe(c);
    expect(list.size).toBe(1);
    expect(list.has(c)).toBe(true);
    expect(list.has(a)).toBe(false);
    expect(list.remove(c)).toBe(true);
    expect(list.size).toBe(0);
    expect(list.head).toBeUndefined();
    expect(list.tail).toBeUndefined();
    expect(list.remove(c)).toBe(false);
    expect(list.size).toBe(0);
  });

  it('a node that left can join again, at the tail', () => {
    const list = new List<Node>();
    const [a, b] = [new Node(1), new Node(2)];
    list.push(a);
    list.push(b);
    list.remove(a);
    list.push(a);
    expect(ids(list)).toEqual([2, 1]);
    expect(list.has(a)).toBe(true);
  });

  it('a node of another list is not in this one', () => {
    const one = new List<Node>();
    const two = new List<Node>();
    const a = new Node(1);
    one.push(a);
    expect(two.has(a)).toBe(false);
    expect(two.remove(a)).toBe(false);
    expect(one.size).toBe(1);
  });

  it('matches a model under random pushes, shifts and removals', () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const list = new List<Node>();
    const model: Node[] = [];
    const all: Node[] = [];
    for (let step = 0; step < 5000; step++) {
      const r = random();
      if (r < 0.45) {
        const n = new Node(step);
        all.push(n);
        list.push(n);
        model.push(n);
      } else if (r < 0.7) {
        expect(list.shift()).toBe(model.shift());
      } else if (all.length > 0) {
        const n = all[Math.floor(random() * all.length)] as Node;
        const i = model.indexOf(n);
        expect(list.remove(n)).toBe(i >= 0);
        if (i >= 0) model.splice(i, 1);
      }
      expect(list.size).toBe(model.length);
    }
    expect(ids(list)).toEqual(model.map((n) => n.id));
  });
});
