import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { Bulkhead } from '../../src/bulkhead/index.js';
import { BulkheadRejectedError } from '../../src/index.js';

type Op =
  | { kind: 'call'; abortable: boolean }
  | { kind: 'succeed'; pick: number }
  | { kind: 'fail'; pick: number }
  | { kind: 'abort'; pick: number }
  | { kind: 'wait'; ms: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('call' as const), abortable: fc.boolean() }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('succeed' as const), pick: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('fail' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 60 }) }), weight: 1 },
);

interface Call {
  id: number;
  controller: AbortController | undefined;
  settled: number;
  outcome: 'value' | 'error' | undefined;
  /** Set once the function started: settles its work. */
  work: { resolve: (v: unknown) => void; reject: (e: unknown) => void } | undefined;
  workDone: boolean;
}

describe('Bulkhead: random interleavings (property)', () => {
  it('never exceeds its limits, settles every call exactly once, and ends at full capacity', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        // Small queues, and queues large enough for the ring buffer to grow and wrap around.
        fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 17, max: 60 })),
        fc.option(fc.integer({ min: 10, max: 100 }), { nil: undefined }),
        fc.array(op, { maxLength: 150 }),
        async (maxConcurrent, maxQueue, queueTimeoutOption, ops) => {
          vi.useFakeTimers();
          try {
            const queueTimeout = maxQueue === 0 ? undefined : queueTimeoutOption;
            const b = new Bulkhead(
              queueTimeout === undefined ? { maxConcurrent, maxQueue } : { maxConcurrent, maxQueue, queueTimeout },
            );
            const calls: Call[] = [];
            let started = 0;

            const check = (): void => {
              expect(b.running).toBeLessThanOrEqual(maxConcurrent);
              expect(b.queued).toBeLessThanOrEqual(maxQueue);
              expect(b.available).toBe(maxConcurrent - b.running);
              // A slot is held exactly while its function's work is unsettled.
              const active = calls.filter((c) => c.work !== undefined && !c.workDone).length;
              expect(b.running).toBe(active);
              // The queue holds exactly the calls neither started nor settled.
              expect(b.queued).toBe(calls.filter((c) => c.work === undefined && c.settled === 0).length);
              // A waiter exists only while every slot is taken.
              if (b.queued > 0) expect(b.running).toBe(maxConcurrent);
              for (const c of calls) expect(c.settled).toBeLessThanOrEqual(1);
            };

            const settleWork = (c: Call, ok: boolean): void => {
              if (c.work === undefined || c.workDone) return;
              c.workDone = true;
              if (ok) c.work.resolve(c.id);
              else c.work.reject(new Error(`fail ${c.id}`));
            };

            for (const o of ops) {
              if (o.kind === 'call') {
                const c: Call = {
                  id: calls.length,
                  controller: o.abortable ? new AbortController() : undefined,
                  settled: 0,
                  outcome: undefined,
                  work: undefined,
                  workDone: false,
                };
                calls.push(c);
                const fn = (): Promise<unknown> => {
                  started++;
                  expect(c.work).toBeUndefined(); // started at most once
                  expect(c.settled).toBe(0); // never started for a caller already turned away
                  return new Promise((resolve, reject) => {
                    c.work = { resolve, reject };
                  });
                };
                const p = c.controller === undefined ? b.execute(fn) : b.execute(fn, { signal: c.controller.signal });
                p.then(
                  () => {
                    c.settled++;
                    c.outcome = 'value';
                  },
                  (error: unknown) => {
                    c.settled++;
                    c.outcome = 'error';
                    if (error instanceof BulkheadRejectedError) {
                      expect(c.work).toBeUndefined(); // a rejected call never ran
                    }
                  },
                );
              } else if (o.kind === 'wait') {
                await vi.advanceTimersByTimeAsync(o.ms);
              } else {
                const running = calls.filter((c) => c.work !== undefined && !c.workDone);
                if (o.kind === 'abort') {
                  const abortable = calls.filter((c) => c.controller !== undefined && !c.controller.signal.aborted);
                  const c = abortable[o.pick % Math.max(1, abortable.length)];
                  c?.controller?.abort(new Error(`abort ${c.id}`));
                } else {
                  const c = running[o.pick % Math.max(1, running.length)];
                  if (c !== undefined) settleWork(c, o.kind === 'succeed');
                }
              }
              await vi.advanceTimersByTimeAsync(0);
              check();
            }

            // Drain: finish every started function until nothing is left.
            for (let guard = 0; guard < 1000; guard++) {
              const running = calls.filter((c) => c.work !== undefined && !c.workDone);
              if (running.length === 0 && b.queued === 0) break;
              for (const c of running) settleWork(c, true);
              if (running.length === 0) await vi.advanceTimersByTimeAsync(100);
              await vi.advanceTimersByTimeAsync(0);
              check();
            }
            for (const c of calls) expect(c.settled).toBe(1);
            expect(b.running).toBe(0);
            expect(b.queued).toBe(0);
            expect(b.available).toBe(maxConcurrent);
            expect(started).toBeLessThanOrEqual(calls.length);
            expect(vi.getTimerCount()).toBe(0);
          } finally {
            vi.useRealTimers();
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
