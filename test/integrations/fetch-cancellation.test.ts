import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Fallback, pipeline, Timeout, TimeoutError } from '../../src/index.js';
import { createFetch, type FetchFunction, HttpStatusError } from '../../src/integrations/fetch/index.js';
import { deferred, listen } from './helpers.js';

// Issue 11 item 3: cancellation must cover the whole exchange, not stop at the headers.
// The servers below send their headers at once and then trickle the body for ever (one byte every
// 20 ms) until the socket closes: a call that is not cancelled never settles, so the assertions
// are that it settles at all (with the right error) and that the server sees the socket close.
// Deadlines are 1 s, so that the headers arrive (and the server sees the request) before they fire
// even on a loaded machine: what is tested is the body read after the headers.

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

interface Trickler {
  readonly url: string;
  /** Resolves when the server sees the response's socket close. */
  readonly closed: Promise<void>;
}

/** A server answering `status` with the given headers, then one body byte every 20 ms for ever. */
async function trickler(status: number, headers: Record<string, string> = {}): Promise<Trickler> {
  const closed = deferred();
  const server = await listen((_req, res: ServerResponse) => {
    res.writeHead(status, headers);
    res.write('x');
    const timer = setInterval(() => res.write('x'), 20);
    res.on('close', () => {
      clearInterval(timer);
      closed.resolve();
    });
  });
  closers.push(server.close);
  return { url: server.url, closed: closed.promise };
}

/**
 * A Timeout of 10 s whose own timer never fires (an inert clock): its deadline is still read by the
 * wrapper (\`remaining()\`), and the test file leaves no 10 s idle timer of the policy behind.
 */
function longTimeout(): Timeout {
  return new Timeout({
    timeout: 10_000,
    clock: { now: () => performance.now(), setTimeout: () => undefined, clearTimeout: () => {} },
  });
}

/** The global fetch, resolving `headers` once a response's headers have arrived. */
function watchedFetch(): { fetch: FetchFunction; headers: Promise<void> } {
  const headers = deferred();
  return {
    headers: headers.promise,
    fetch: async (input, init) => {
      const response = await globalThis.fetch(input, init);
      headers.resolve();
      return response;
    },
  };
}

describe("createFetch: a body the wrapper reads (onFailureStatus: 'throw')", () => {
  it('a slow 5xx body under a Timeout rejects with TimeoutError and closes the socket', async () => {
    const server = await trickler(503, { 'content-length': '10000' });
    const fetch = createFetch({ policy: new Timeout(1_000), retry: false, onFailureStatus: 'throw' });
    const error = await fetch(server.url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    await server.closed;
  });

  it('the same with retries: each attempt is bounded, the call ends with the last TimeoutError', async () => {
    const server = await trickler(503, { 'content-length': '10000' });
    const fetch = createFetch({ policy: new Timeout(1_000), retry: { backoff: [0] }, onFailureStatus: 'throw' });
    await expect(fetch(server.url)).rejects.toBeInstanceOf(TimeoutError);
    await server.closed;
  });

  it("the caller's abort during the read rejects with its reason and closes the socket", async () => {
    const server = await trickler(503, { 'content-length': '10000' });
    const watched = watchedFetch();
    const fetch = createFetch({ retry: false, onFailureStatus: 'throw', fetch: watched.fetch });
    const controller = new AbortController();
    const call = fetch(server.url, { signal: controller.signal });
    const outcome = expect(call).rejects.toBe('stop');
    await watched.headers;
    controller.abort('stop');
    await outcome;
    await server.closed;
  });

  it('a small failure body that arrives in time is still buffered on the HttpStatusError', async () => {
    const server = await listen((_req, res) => {
      res.writeHead(500, { 'content-length': '4' });
      res.end('oops');
    });
    closers.push(server.close);
    const fetch = createFetch({ policy: longTimeout(), retry: false, onFailureStatus: 'throw' });
    const error = (await fetch(server.url).catch((e: unknown) => e)) as HttpStatusError;
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(await error.response.text()).toBe('oops');
  });
});

describe('createFetch: a body handed to the caller', () => {
  it("the caller's abort during the caller's own read rejects the read and closes the socket", async () => {
    const server = await trickler(200);
    // A long Timeout in the policy: before the fix its settled scope detached the caller's signal.
    const fetch = createFetch({ policy: longTimeout(), retry: false });
    const controller = new AbortController();
    const res = await fetch(server.url, { signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.url).toBe(`${server.url}/`);
    const read = res.text();
    const outcome = expect(read).rejects.toBe('stop');
    controller.abort('stop');
    await outcome;
    await server.closed;
  });

  it("the caller's abort also reaches a body handed over without a Timeout", async () => {
    const server = await trickler(200);
    const fetch = createFetch({ retry: { backoff: [0] } });
    const controller = new AbortController();
    const res = await fetch(server.url, { signal: controller.signal });
    const outcome = expect(res.text()).rejects.toBe('stop');
    controller.abort('stop');
    await outcome;
    await server.closed;
  });

  it("a body still unread at the policy's deadline: the read rejects with TimeoutError and the socket closes", async () => {
    const server = await trickler(200);
    const fetch = createFetch({ policy: pipeline(new Timeout(1_000)), retry: { backoff: [0] } });
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(res.url).toBe(`${server.url}/`);
    expect(res.redirected).toBe(false);
    await expect(res.text()).rejects.toBeInstanceOf(TimeoutError);
    await server.closed;
  });

  it('an outer Timeout whose ctx.signal is passed bounds the body read after its call returned', async () => {
    const server = await trickler(200);
    const fetch = createFetch({ retry: { backoff: [0] } });
    const outer = new Timeout(1_000);
    const res = await outer.execute(({ signal }) => fetch(server.url, { signal }));
    await expect(res.text()).rejects.toBeInstanceOf(TimeoutError);
    await server.closed;
  });

  it("a failure Response returned when retries run out ('return') stays under the deadline too", async () => {
    const server = await trickler(503);
    const fetch = createFetch({ policy: new Timeout(1_000), retry: false });
    const res = await fetch(server.url);
    expect(res.status).toBe(503);
    await expect(res.text()).rejects.toBeInstanceOf(TimeoutError);
    await server.closed;
  });

  it('a failed response that a Fallback in the policy replaced is cancelled, not left holding the socket', async () => {
    const server = await trickler(503);
    const fetch = createFetch({ policy: new Fallback(() => new Response('cached')), retry: false });
    const res = await fetch(server.url);
    expect(await res.text()).toBe('cached');
    await server.closed;
  });

  it('a body read in time is returned whole; headers and status are kept', async () => {
    const server = await listen((_req, res) => {
      res.writeHead(201, 'Made', { 'x-test': 'yes', 'content-type': 'text/plain' });
      res.end('hello');
    });
    closers.push(server.close);
    const fetch = createFetch({ policy: longTimeout(), retry: false });
    const res = await fetch(server.url);
    expect([res.status, res.statusText, res.headers.get('x-test')]).toEqual([201, 'Made', 'yes']);
    expect(await res.text()).toBe('hello');
    // Nothing is held once the body is read: the wrapper's 10 s deadline timer is cleared (the
    // file's leak check fails on a pending timer).
  });

  it('the deadline holds even when the underlying fetch ignores its signal (fake timers)', async () => {
    vi.useFakeTimers();
    try {
      const endless = () =>
        new Response(
          new ReadableStream<Uint8Array>({
            pull: () => new Promise<void>(() => {}),
          }),
        );
      const fetch = createFetch({ policy: new Timeout(1_000), retry: false, fetch: async () => endless() });
      const res = await fetch('http://127.0.0.1:1/');
      const read = res.text();
      const outcome = expect(read).rejects.toBeInstanceOf(TimeoutError);
      await vi.advanceTimersByTimeAsync(1_000);
      await outcome;
      // A cancelled body is released too: nothing is left scheduled.
      const res2 = await fetch('http://127.0.0.1:1/');
      await res2.body?.cancel();
      expect(vi.getTimerCount()).toBeLessThanOrEqual(1); // at most the Timeout's own idle timer
      await vi.runOnlyPendingTimersAsync();
    } finally {
      vi.useRealTimers();
    }
  });
});
