import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Clock, Fallback, pipeline, RetryPolicy, Timeout, TimeoutError } from '../../src/index.js';
import { createFetch, HttpStatusError, parseRetryAfter } from '../../src/integrations/fetch/index.js';
import { listen } from './helpers.js';

// Issue 11 items 13 and 20: which fetch failures are retried, and after how long.

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** A clock that records each delay asked for and fires at once. */
function recordingClock(): { clock: Clock; delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    clock: {
      now: () => 0,
      setTimeout: (cb: () => void, ms: number) => {
        delays.push(ms);
        return setTimeout(cb, 0);
      },
      clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout),
    },
  };
}

describe('retryOn: [code] matches a fetch failure (the code is on error.cause)', () => {
  it("retries a connection reset with retryOn: ['ECONNRESET'] (real server resetting the socket)", async () => {
    let hits = 0;
    const server = await listen((req, res) => {
      hits++;
      if (hits <= 2) req.socket.resetAndDestroy();
      else res.end('ok');
    });
    closers.push(server.close);
    const fetch = createFetch({ retry: { backoff: [0, 0, 0], retryOn: ['ECONNRESET'] } });
    const res = await fetch(server.url);
    expect(await res.text()).toBe('ok');
    expect(hits).toBe(3);
  });

  it('a code that does not match is still not retried', async () => {
    let hits = 0;
    const server = await listen((req) => {
      hits++;
      req.socket.resetAndDestroy();
    });
    closers.push(server.close);
    const fetch = createFetch({ retry: { backoff: [0, 0, 0], retryOn: ['ETIMEDOUT'] } });
    const error = await fetch(server.url).catch((e: unknown) => e);
    expect((error as Error & { cause?: { code?: string } }).cause?.code).toBe('ECONNRESET');
    expect(hits).toBe(1);
  });
});

describe('parseRetryAfter: only delay-seconds or a valid HTTP-date', () => {
  const now = Date.UTC(2026, 0, 1, 0, 0, 0);

  it('ignores invalid values (undefined, so the backoff is used)', () => {
    for (const value of ['1.5', '-1', '+5', '1e3', '0x10', 'garbage', '', ' ', '2026-01-01', '12 s', 'Infinity']) {
      expect(parseRetryAfter(value, now), JSON.stringify(value)).toBeUndefined();
    }
    // Impossible dates and times in the right shape.
    expect(parseRetryAfter('Fri, 30 Feb 2026 00:00:00 GMT', now)).toBeUndefined();
    expect(parseRetryAfter('Thu, 01 Jan 2026 24:00:00 GMT', now)).toBeUndefined();
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:60:00 GMT', now)).toBeUndefined();
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:00 PST', now)).toBeUndefined();
  });

  it('reads delay-seconds and the three HTTP-date forms', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 7 ', now)).toBe(7_000);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:09 GMT', now)).toBe(9_000);
    expect(parseRetryAfter('Thursday, 01-Jan-26 00:00:09 GMT', now)).toBe(9_000);
    expect(parseRetryAfter('Thu Jan  1 00:00:09 2026', now)).toBe(9_000);
    // A date in the past: retry at once.
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
  });

  it('createFetch uses the backoff delay for an invalid Retry-After', async () => {
    for (const value of ['1.5', '-1', 'garbage']) {
      let hits = 0;
      const server = await listen((_req, res) => {
        hits++;
        if (hits === 1) res.writeHead(503, { 'retry-after': value }).end();
        else res.end('ok');
      });
      closers.push(server.close);
      const { clock, delays } = recordingClock();
      const res = await createFetch({ retry: { backoff: [50], clock } })(server.url);
      expect(await res.text()).toBe('ok');
      expect(delays, `Retry-After: ${value}`).toEqual([50]);
    }
  });
});

describe('a redirect failure is not retried', () => {
  /** A server that redirects every request to itself. */
  async function loop(): Promise<{ url: string; hits: () => number }> {
    let hits = 0;
    const server = await listen((req, res) => {
      hits++;
      res.writeHead(302, { location: `/again${req.url ?? ''}` }).end();
    });
    closers.push(server.close);
    return { url: server.url, hits: () => hits };
  }

  it("a redirect loop fails once (one round of the runtime's redirects), not once per retry", async () => {
    const server = await loop();
    const fetch = createFetch({ retry: { backoff: [0, 0, 0] } });
    const error = await fetch(server.url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    // Node's fetch follows 20 redirects: 21 requests for one attempt (before the fix: 4 × 21 = 84).
    expect(server.hits()).toBe(21);
  });

  it("redirect: 'error' fails at the first redirect, without retries", async () => {
    const server = await loop();
    const fetch = createFetch({ retry: { backoff: [0, 0, 0] } });
    await expect(fetch(server.url, { redirect: 'error' })).rejects.toBeInstanceOf(TypeError);
    expect(server.hits()).toBe(1);
  });

  it('other network failures are still retried', async () => {
    let calls = 0;
    const fetch = createFetch({
      retry: { backoff: [0, 0] },
      fetch: async () => {
        calls++;
        throw new TypeError('fetch failed', { cause: new Error('other side closed') });
      },
    });
    await expect(fetch('http://127.0.0.1:1/')).rejects.toThrow('fetch failed');
    expect(calls).toBe(3);
  });
});

describe('a Retry-After longer than what is left of an outer Timeout fails fast', () => {
  // The outer Timeouts run on a clock whose timers are cleared after each test, so that their
  // idle timer (armed for 1 s) does not outlive the file.
  const handles = new Set<NodeJS.Timeout>();
  const clock: Clock = {
    now: () => performance.now(),
    setTimeout: (cb: () => void, ms: number) => {
      const handle = setTimeout(() => {
        handles.delete(handle);
        cb();
      }, ms);
      handles.add(handle);
      return handle;
    },
    clearTimeout: (handle: unknown) => {
      handles.delete(handle as NodeJS.Timeout);
      clearTimeout(handle as NodeJS.Timeout);
    },
  };
  afterEach(() => {
    for (const handle of handles) clearTimeout(handle);
    handles.clear();
  });

  /** A server answering every request 503 with `Retry-After: 10` (seconds). */
  async function unavailable(): Promise<{ url: string; hits: () => number }> {
    let hits = 0;
    const server = await listen((_req, res) => {
      hits++;
      res.writeHead(503, { 'retry-after': '10' }).end('busy');
    });
    closers.push(server.close);
    return { url: server.url, hits: () => hits };
  }

  it('the call under an outer Timeout(5000) gets the HttpStatusError at once, not a TimeoutError later', async () => {
    const server = await unavailable();
    const api = createFetch({ retry: { backoff: [0, 0, 0] }, onFailureStatus: 'throw' });
    // 5 s left, 10 s asked: before the fix the retry slept into the outer TimeoutError.
    const outer = new Timeout({ timeout: 5_000, clock });
    const error = await outer.execute(({ signal }) => api(server.url, { signal })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect((error as HttpStatusError).status).toBe(503);
    expect(server.hits()).toBe(1);
  });

  it('an outer Fallback answers at once', async () => {
    const server = await unavailable();
    const api = createFetch({ retry: { backoff: [0, 0, 0] } });
    // The fallback says what it answered: the upstream's failure, or a timeout (before the fix).
    const outer = pipeline(
      new Fallback((error) => (error instanceof TimeoutError ? 'timed out' : 'fallback')),
      new Timeout({ timeout: 5_000, clock }),
    );
    // In 'return' mode the 503 Response is the result: the fallback is for a thrown failure.
    const answer = await outer.execute(async ({ signal }) => {
      const res = await api(server.url, { signal });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`upstream ${res.status}`);
      }
      return res.text();
    });
    expect(answer).toBe('fallback');
    expect(server.hits()).toBe(1);
  });

  it("the mechanism: a nested execute given a Timeout's ctx.signal runs under its deadline (fake timers)", async () => {
    vi.useFakeTimers();
    try {
      const original = new Error('unavailable');
      let calls = 0;
      const inner = new RetryPolicy({ backoff: [0], retryAfter: () => 10_000 });
      const outer = new Timeout(1_000);
      const call = outer.execute(({ signal }) =>
        inner.execute(
          () => {
            calls++;
            throw original;
          },
          { signal },
        ),
      );
      // Rejected at once with the original error: no 10 s wait into a TimeoutError.
      await expect(call).rejects.toBe(original);
      expect(calls).toBe(1);
      await vi.runOnlyPendingTimersAsync();
    } finally {
      vi.useRealTimers();
    }
  });

  it('without an outer deadline the Retry-After is honoured (retried after it)', async () => {
    const server = await unavailable();
    const { clock, delays } = recordingClock();
    const api = createFetch({ retry: { backoff: [0], clock } });
    const res = await api(server.url);
    expect(res.status).toBe(503);
    expect(delays).toEqual([10_000]);
    expect(server.hits()).toBe(2);
  });
});
