import { afterEach, describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/breaker/index.js';
import { CircuitOpenError, pipeline, Timeout, TimeoutError } from '../../src/index.js';
import { createFetch, HttpStatusError, parseRetryAfter } from '../../src/integrations/fetch/index.js';
import { deferred, listen } from './helpers.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** A server answering with the given statuses in turn (then 200), recording each request. */
async function flaky(statuses: number[], headers: Record<string, string> = {}) {
  const seen: { method: string; body: string }[] = [];
  const server = await listen((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', body });
      const status = statuses.shift() ?? 200;
      res.writeHead(status, status === 200 ? {} : headers);
      res.end(`status ${status}`);
    });
  });
  closers.push(server.close);
  return { url: server.url, seen };
}

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP-dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(' 0 ')).toBe(0);
    const now = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(parseRetryAfter(new Date(now + 7000).toUTCString(), now)).toBe(7000);
    expect(parseRetryAfter(new Date(now - 7000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});

describe('createFetch', () => {
  it('retries 5xx and 429 for GET and returns the first success', async () => {
    const { url, seen } = await flaky([503, 429, 500]);
    const fetch = createFetch({ retry: { backoff: [0, 0, 0] } });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('status 200');
    expect(seen).toHaveLength(4);
  });

  it('returns the last failed Response when retries run out (default) and throws with onFailureStatus: throw', async () => {
    const { url } = await flaky([500, 502, 503, 504]);
    const res = await createFetch({ retry: { backoff: [0] } })(url);
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('status 502');
    const error = await createFetch({ retry: { backoff: [0] }, onFailureStatus: 'throw' })(url).catch((e) => e);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error.status).toBe(504);
    expect(await error.response.text()).toBe('status 504');
  });

  it('does not retry non-idempotent methods by default, but retries them when listed', async () => {
    const { url, seen } = await flaky([503, 503]);
    const res = await createFetch({ retry: { backoff: [0] } })(url, { method: 'POST', body: 'a' });
    expect(res.status).toBe(503);
    expect(seen).toHaveLength(1);
    const again = await createFetch({ retry: { backoff: [0] }, retryMethods: ['POST'] })(url, {
      method: 'POST',
      body: 'payload',
    });
    expect(again.status).toBe(200);
    // The body is sent again on the retry.
    expect(seen.slice(1)).toEqual([
      { method: 'POST', body: 'payload' },
      { method: 'POST', body: 'payload' },
    ]);
  });

  it('honours Retry-After as the retry delay, and gives up when it is longer than maxRetryAfter', async () => {
    const { url } = await flaky([503], { 'retry-after': '2' });
    const delays: number[] = [];
    // A clock that records the delay asked for and fires at once.
    const clock = {
      now: () => 0,
      setTimeout: (cb: () => void, ms: number) => {
        delays.push(ms);
        return setTimeout(cb, 0);
      },
      clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout),
    };
    const res = await createFetch({ retry: { backoff: [50], clock } })(url);
    expect(res.status).toBe(200);
    expect(delays).toEqual([2000]);

    const dated = await flaky([429], { 'retry-after': new Date(Date.now() + 30_000).toUTCString() });
    delays.length = 0;
    expect((await createFetch({ retry: { backoff: [50], clock } })(dated.url)).status).toBe(200);
    // An HTTP-date has whole seconds: up to 30 s from now (far above the 50 ms backoff; the lower
    // bound leaves 10 s for a loaded machine between writing the header and reading it).
    expect(delays[0]).toBeGreaterThan(20_000);
    expect(delays[0]).toBeLessThanOrEqual(30_000);

    const second = await flaky([503], { 'retry-after': '120' });
    const res2 = await createFetch({ retry: { backoff: [0], clock } })(second.url);
    expect(res2.status).toBe(503);
    expect(second.seen).toHaveLength(1);
  });

  it('counts failure statuses as failures of a circuit breaker, which then short-circuits', async () => {
    const { url, seen } = await flaky([500, 502, 503]);
    const breaker = new CircuitBreaker({ volumeThreshold: 2, sleepWindow: 60_000 });
    const fetch = createFetch({ policy: breaker, retry: { backoff: [0, 0, 0] } });
    // Two failed attempts open the breaker; the retry stops at the CircuitOpenError.
    await expect(fetch(url)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(seen).toHaveLength(2);
    expect(breaker.state).toBe('open');
    expect(breaker.metrics().failures).toBe(2);
    await expect(fetch(url)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(seen).toHaveLength(2);
  });

  it('does not retry a CircuitOpenError', async () => {
    let calls = 0;
    const fetch = createFetch({
      retry: { backoff: [0, 0] },
      fetch: async () => {
        calls++;
        throw new CircuitOpenError('open', 0, 1000);
      },
    });
    await expect(fetch('http://127.0.0.1:1/')).rejects.toBeInstanceOf(CircuitOpenError);
    expect(calls).toBe(1);
  });

  it('retries network errors', async () => {
    const { url } = await flaky([]);
    let calls = 0;
    const fetch = createFetch({
      retry: { backoff: [0, 0] },
      fetch: (input, init) => {
        calls++;
        return calls === 1 ? Promise.reject(new TypeError('fetch failed')) : globalThis.fetch(input, init);
      },
    });
    expect((await fetch(url)).status).toBe(200);
    expect(calls).toBe(2);
  });

  it('passes the execution signal to the inner fetch: a Timeout aborts the request', async () => {
    const arrived = deferred();
    let serverSawClose = false;
    const server = await listen((_req, res) => {
      arrived.resolve();
      res.on('close', () => {
        serverSawClose = true;
      });
    });
    closers.push(server.close);
    const fetch = createFetch({ policy: pipeline(new Timeout(100)), retry: false });
    const error = await fetch(server.url).catch((e) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    await arrived.promise;
    await expect.poll(() => serverSawClose).toBe(true);
  });

  it("respects the caller's signal (init.signal and a Request's signal)", async () => {
    const arrived = deferred();
    const closed = deferred();
    const server = await listen((_req, res) => {
      arrived.resolve();
      res.on('close', () => closed.resolve());
    });
    closers.push(server.close);
    const fetch = createFetch({ retry: { backoff: [0, 0] } });
    const controller = new AbortController();
    const p = fetch(server.url, { signal: controller.signal });
    const outcome = expect(p).rejects.toBe('stop');
    await arrived.promise;
    controller.abort('stop');
    await outcome;
    await closed.promise;

    const c2 = new AbortController();
    c2.abort('already');
    await expect(fetch(new Request(server.url, { signal: c2.signal }))).rejects.toBe('already');
  });

  it('cancels the bodies of discarded responses', async () => {
    const closes: boolean[] = [];
    let n = 0;
    const server = await listen((_req, res) => {
      n++;
      res.on('close', () => closes.push(res.writableFinished));
      if (n === 1) {
        // A large streamed 503 whose body would hold the socket if nobody read or cancelled it.
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.write('x'.repeat(64 * 1024));
        return;
      }
      res.end('ok');
    });
    closers.push(server.close);
    const res = await createFetch({ retry: { backoff: [0] } })(server.url);
    expect(await res.text()).toBe('ok');
    // The first response's body was cancelled: its connection closed without finishing.
    await expect.poll(() => closes.includes(false)).toBe(true);
  });

  it('validates its options', () => {
    expect(() => createFetch({ retyr: {} } as never)).toThrow(TypeError);
    expect(() => createFetch({ onFailureStatus: 'x' } as never)).toThrow(/onFailureStatus/);
    expect(() => createFetch({ maxRetryAfter: -1 })).toThrow(RangeError);
    expect(() => createFetch({ policy: {} as never })).toThrow(/policy/);
  });
});
