import type { Clock } from '../../src/core/clock.js';

/** A clock moved by hand; the breaker needs no timers, so scheduling one is a test failure. */
export class ManualClock implements Clock {
  constructor(public time = 0) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
  setTimeout(): unknown {
    throw new Error('the circuit breaker must not schedule timers');
  }
  clearTimeout(): void {
    throw new Error('the circuit breaker must not schedule timers');
  }
}

/** A promise whose settling the test controls. */
export function deferred<T = unknown>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Runs `fn` through `policy`, returning the error it rejects with, or the value. */
export async function settle<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

export const boom = (): never => {
  throw new Error('boom');
};
