/**
 * Property tests of the two standalone primitives, in the same spirit as the pipeline model:
 * random callers, random holds / batch outcomes, random aborts and timeouts, fake timers. Every
 * caller settles exactly once with an explained outcome; nothing stays held, queued, pending or
 * scheduled; no listener stays on a caller's signal.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { Batcher } from '../../src/batcher/index.js';
import { BatcherClosedError, BatchResultMissingError } from '../../src/core/errors.js';
import { Semaphore } from '../../src/semaphore/index.js';
import { trackListeners } from '../support/listeners.js';

const RUNS = Number(process.env.FC_RUNS ?? 150);
const tens = (max: number) => fc.integer({ min: 0, max: max / 10 }).map((n) => n * 10);

/** Drives fake time from timer to timer until `done()` or no timer is left. */
async function drive(done: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !done(); i++) {
    if (vi.getTimerCount() === 0) {
      await vi.advanceTimersByTimeAsync(0);
      if (vi.getTimerCount() === 0) break;
    }
    await vi.advanceTimersToNextTimerAsync();
  }
}

interface Settled {
  count: number;
  ok?: boolean;
  value?: unknown;
  error?: unknown;
  seq: number;
}

describe('Semaphore (fast-check)', () => {
  const scenario = fc.record({
    permits: fc.integer({ min: 1, max: 3 }),
    timeout: fc.option(
      tens(200).map((t) => t + 10),
      { nil: undefined },
    ),
    callers: fc.array(
      fc.record({
        start: tens(200),
        hold: tens(100),
        abortAfter: fc.option(
          tens(200).map((t) => t + 5),
          { nil: undefined },
        ),
        ownTimeout: fc.option(
          tens(200).map((t) => t + 10),
          { nil: undefined },
        ),
      }),
      { minLength: 1, maxLength: 8 },
    ),
  });

  it('never more holders than permits; every acquire settles once; all permits come back', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        vi.useFakeTimers();
        try {
          const sem = new Semaphore(s.permits, s.timeout === undefined ? undefined : { timeout: s.timeout });
          let holders = 0;
          let peak = 0;
          let seq = 0;
          const results: Settled[] = [];
          const aborts: (number | undefined)[] = [];
          const reasons: unknown[] = [];
          const counters: ReturnType<typeof trackListeners>[] = [];
          let open = s.callers.length;
          s.callers.forEach((c, i) => {
            const r: Settled = { count: 0, seq: -1 };
            results.push(r);
            setTimeout(() => {
              const controller = new AbortController();
              counters.push(trackListeners(controller.signal));
              if (c.abortAfter !== undefined) {
                setTimeout(() => {
                  aborts[i] = ++seq;
                  reasons[i] = new Error(`abort ${i}`);
                  controller.abort(reasons[i]);
                }, c.abortAfter);
              }
              const options =
                c.ownTimeout === undefined
                  ? { signal: controller.signal }
                  : { signal: controller.signal, timeout: c.ownTimeout };
              sem.acquire(options).then(
                () => {
                  r.count++;
                  r.ok = true;
                  r.seq = ++seq;
                  holders++;
                  peak = Math.max(peak, holders);
                  setTimeout(() => {
                    holders--;
                    sem.release();
                    open--;
                  }, c.hold);
                },
                (error: unknown) => {
                  r.count++;
                  r.ok = false;
                  r.error = error;
                  r.seq = ++seq;
                  open--;
                },
              );
            }, c.start);
          });
          await drive(() => open === 0 && vi.getTimerCount() === 0);
          await vi.advanceTimersByTimeAsync(1_000);
          results.forEach((r, i) => {
            expect(r.count, `caller ${i}`).toBe(1);
            const abortedFirst = aborts[i] !== undefined && (aborts[i] as number) < r.seq;
            if (!r.ok) {
              if (abortedFirst) expect(r.error).toBe(reasons[i]);
              else expect((r.error as Error).name, `caller ${i}`).toBe('SemaphoreTimeoutError');
            }
          });
          expect(peak).toBeLessThanOrEqual(s.permits);
          expect(sem.available).toBe(s.permits);
          expect(sem.waiting).toBe(0);
          for (const c of counters) expect(c.active()).toBe(0);
          expect(vi.getTimerCount()).toBe(0);
          expect(() => sem.release()).toThrow();
        } finally {
          vi.clearAllTimers();
          vi.useRealTimers();
        }
      }),
      { numRuns: RUNS },
    );
  }, 60_000);
});

describe('Batcher (fast-check)', () => {
  const outcome = fc.constantFrom('ok' as const, 'short' as const, 'reject' as const, 'throw' as const, 'map' as const);
  const scenario = fc.record({
    window: tens(50).map((t) => t + 10),
    maxBatchSize: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
    batches: fc.array(fc.record({ outcome, delay: tens(50) }), { minLength: 1, maxLength: 6 }),
    callers: fc.array(
      fc.record({
        start: tens(200),
        abortAfter: fc.option(
          tens(100).map((t) => t + 5),
          { nil: undefined },
        ),
      }),
      { minLength: 1, maxLength: 12 },
    ),
    closeAt: fc.option(
      tens(250).map((t) => t + 5),
      { nil: undefined },
    ),
  });

  it('every call settles once with its own result or an explaining error; nothing stays pending', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        vi.useFakeTimers();
        try {
          const seen = new Map<number, number>();
          let batchNo = 0;
          let runningBatches = 0;
          const runErrors = new Set<unknown>();
          const sizes: number[] = [];
          const batcher = new Batcher<number, string>({
            window: s.window,
            ...(s.maxBatchSize === undefined ? {} : { maxBatchSize: s.maxBatchSize }),
            run: (items) => {
              sizes.push(items.length);
              for (const item of items) seen.set(item, (seen.get(item) ?? 0) + 1);
              const b = s.batches[Math.min(batchNo++, s.batches.length - 1)] as (typeof s.batches)[number];
              const error = new Error(`batch ${batchNo} failed`);
              if (b.outcome === 'throw') {
                runErrors.add(error);
                throw error;
              }
              runningBatches++;
              return new Promise((resolve, reject) => {
                setTimeout(() => {
                  runningBatches--;
                  if (b.outcome === 'reject') {
                    runErrors.add(error);
                    reject(error);
                  } else if (b.outcome === 'short') resolve(items.slice(1).map((i) => `r${i}`));
                  else if (b.outcome === 'map') resolve(new Map(items.slice(1).map((i) => [i, `r${i}`])));
                  else resolve(items.map((i) => `r${i}`));
                }, b.delay);
              });
            },
          });
          let seq = 0;
          let closedAt: number | undefined;
          const results: Settled[] = [];
          const aborts: (number | undefined)[] = [];
          const reasons: unknown[] = [];
          const calledAt: number[] = [];
          const counters: ReturnType<typeof trackListeners>[] = [];
          let open = s.callers.length;
          let closing: Promise<void> | undefined;
          if (s.closeAt !== undefined) {
            setTimeout(() => {
              closedAt = ++seq;
              closing = batcher.close();
            }, s.closeAt);
          }
          s.callers.forEach((c, i) => {
            const r: Settled = { count: 0, seq: -1 };
            results.push(r);
            setTimeout(() => {
              const controller = new AbortController();
              counters.push(trackListeners(controller.signal));
              if (c.abortAfter !== undefined) {
                setTimeout(() => {
                  aborts[i] = ++seq;
                  reasons[i] = new Error(`abort ${i}`);
                  controller.abort(reasons[i]);
                }, c.abortAfter);
              }
              calledAt[i] = ++seq;
              batcher.call(i, { signal: controller.signal }).then(
                (value) => {
                  r.count++;
                  r.ok = true;
                  r.value = value;
                  r.seq = ++seq;
                  open--;
                },
                (error: unknown) => {
                  r.count++;
                  r.ok = false;
                  r.error = error;
                  r.seq = ++seq;
                  open--;
                },
              );
            }, c.start);
          });
          await drive(() => open === 0 && vi.getTimerCount() === 0);
          await vi.advanceTimersByTimeAsync(1_000);
          if (closing !== undefined) await closing;
          results.forEach((r, i) => {
            expect(r.count, `caller ${i}`).toBe(1);
            expect(seen.get(i) ?? 0, `item ${i} dispatched more than once`).toBeLessThanOrEqual(1);
            const abortedFirst = aborts[i] !== undefined && (aborts[i] as number) < r.seq;
            if (r.ok) {
              expect(r.value).toBe(`r${i}`);
              expect(seen.get(i)).toBe(1);
              return;
            }
            const e = r.error;
            const closedBefore = closedAt !== undefined && closedAt < (calledAt[i] as number);
            if (closedBefore) expect(e).toBeInstanceOf(BatcherClosedError);
            else if (abortedFirst) expect(e).toBe(reasons[i]);
            else
              expect(e instanceof BatchResultMissingError || runErrors.has(e), `caller ${i}: ${String(e)}`).toBe(true);
          });
          if (s.maxBatchSize !== undefined) for (const n of sizes) expect(n).toBeLessThanOrEqual(s.maxBatchSize);
          expect(batcher.pending).toBe(0);
          expect(batcher.running).toBe(0);
          expect(runningBatches).toBe(0);
          for (const c of counters) expect(c.active()).toBe(0);
          expect(vi.getTimerCount()).toBe(0);
        } finally {
          vi.clearAllTimers();
          vi.useRealTimers();
        }
      }),
      { numRuns: RUNS },
    );
  }, 60_000);
});
