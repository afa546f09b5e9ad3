import type { Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import Koa from 'koa';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from '../../src/breaker/index.js';
import { setErrorReporter } from '../../src/core/report.js';
import {
  createHystrixStream,
  type HystrixBreakerSource,
  type HystrixStreamHandler,
  hystrixCommand,
} from '../../src/integrations/hystrix/index.js';
import { closeServer, deferred, listen } from './helpers.js';

const urlOf = (server: { address(): unknown }) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** Reads SSE frames from a streamed body. */
function frameReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    async next(): Promise<string> {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          return frame;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buffer += decoder.decode(value, { stream: true });
      }
    },
    async data(): Promise<Record<string, unknown>> {
      for (;;) {
        const frame = await this.next();
        if (frame.startsWith('data: ')) return JSON.parse(frame.slice(6));
      }
    },
    cancel: () => reader.cancel(),
  };
}

async function trip(breaker: CircuitBreaker): Promise<void> {
  for (let i = 0; i < 2; i++) {
    await breaker
      .execute(() => {
        throw new Error('down');
      })
      .catch(() => {});
  }
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

describe('staunch/hystrix', () => {
  it('streams a HystrixCommand frame per breaker with the live state, every interval', async () => {
    const payments = new CircuitBreaker({ name: 'payments', group: 'shop', volumeThreshold: 2, sleepWindow: 60_000 });
    const search = new CircuitBreaker({ name: 'search', volumeThreshold: 50 });
    await trip(payments);
    await payments.execute(() => 1).catch(() => {});
    await search.execute(() => 'ok');
    const stream = createHystrixStream({ breakers: [payments, search], interval: 20, executionTimeout: 1000 });
    const server = await listen((req, res) => stream(req, res));
    close = server.close;

    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const frames = frameReader(res.body!);
    const p = await frames.data();
    expect(p).toMatchObject({
      type: 'HystrixCommand',
      name: 'payments',
      group: 'shop',
      isCircuitBreakerOpen: true,
      errorPercentage: 100,
      errorCount: 2,
      requestCount: 2,
      rollingCountFailure: 2,
      rollingCountSuccess: 0,
      rollingCountShortCircuited: 1,
      rollingCountTimeout: 0,
      rollingCountSemaphoreRejected: 0,
      currentConcurrentExecutionCount: 0,
      propertyValue_circuitBreakerRequestVolumeThreshold: 2,
      propertyValue_circuitBreakerSleepWindowInMilliseconds: 60_000,
      propertyValue_circuitBreakerErrorThresholdPercentage: 50,
      propertyValue_metricsRollingStatisticalWindowInMilliseconds: 10_000,
      propertyValue_circuitBreakerForceOpen: false,
      propertyValue_circuitBreakerForceClosed: false,
      propertyValue_executionTimeoutInMilliseconds: 1000,
      reportingHosts: 1,
    });
    expect(typeof p.currentTime).toBe('number');
    expect(Object.keys(p.latencyExecute as object).sort()).toEqual(
      ['0', '25', '50', '75', '90', '95', '99', '99.5', '100'].sort(),
    );
    expect(typeof p.latencyTotal_mean).toBe('number');
    const s = await frames.data();
    expect(s).toMatchObject({ name: 'search', group: 'search', isCircuitBreakerOpen: false, requestCount: 1 });
    expect(s.rollingCountSuccess).toBe(1);

    // Later frames follow the breaker.
    payments.isolate();
    let seen: Record<string, unknown>;
    do seen = await frames.data();
    while (seen.name !== 'payments' || seen.propertyValue_circuitBreakerForceOpen !== true);
    expect(seen.isCircuitBreakerOpen).toBe(true);
    payments.reset();
    do seen = await frames.data();
    while (seen.name !== 'payments' || seen.isCircuitBreakerOpen !== false);
    expect(seen.requestCount).toBe(0);
    await frames.cancel();
    await expect.poll(() => stream.connections).toBe(0);
  });

  it('sends ping frames when there is no breaker, and reads a breaker list from a function', async () => {
    const list: CircuitBreaker[] = [];
    const stream = createHystrixStream({ breakers: () => list, interval: 10 });
    const server = await listen((req, res) => stream(req, res));
    close = server.close;
    const frames = frameReader((await fetch(server.url)).body!);
    expect(await frames.next()).toBe('ping: ');
    list.push(new CircuitBreaker({ name: 'late' }));
    expect((await frames.data()).name).toBe('late');
    await frames.cancel();
  });

  it('limits connections (503 beyond) and keeps a timer only while a client is connected', async () => {
    const setSpy = vi.spyOn(globalThis, 'setInterval');
    const clearSpy = vi.spyOn(globalThis, 'clearInterval');
    // Other code (the HTTP client) uses timers too: look only at the stream's (17 ms) interval.
    const ours = () => setSpy.mock.calls.flatMap((call, i) => (call[1] === 17 ? [setSpy.mock.results[i]?.value] : []));
    const cleared = () => clearSpy.mock.calls.filter((call) => ours().includes(call[0])).length;
    const stream = createHystrixStream({ breakers: [], interval: 17, maxConnections: 2 });
    const server = await listen((req, res) => stream(req, res));
    close = server.close;
    expect(ours()).toHaveLength(0);
    const a = new AbortController();
    const b = new AbortController();
    const first = await fetch(server.url, { signal: a.signal });
    const second = await fetch(server.url, { signal: b.signal });
    expect(stream.connections).toBe(2);
    expect(ours()).toHaveLength(1);
    const third = await fetch(server.url);
    expect(third.status).toBe(503);
    expect(await third.text()).toMatch(/max 2/);
    a.abort();
    await first.body?.cancel().catch(() => {});
    await expect.poll(() => stream.connections).toBe(1);
    expect(cleared()).toBe(0);
    b.abort();
    await second.body?.cancel().catch(() => {});
    await expect.poll(() => stream.connections).toBe(0);
    expect(cleared()).toBe(1);
  });

  it('serves web-standard requests with fetch(), ending on abort or close()', async () => {
    const breaker = new CircuitBreaker({ name: 'web' });
    const stream = createHystrixStream({ breakers: [breaker], interval: 10 });
    const controller = new AbortController();
    const res = stream.fetch(new Request('http://localhost/hystrix.stream', { signal: controller.signal }));
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const frames = frameReader(res.body!);
    expect((await frames.data()).name).toBe('web');
    expect(stream.connections).toBe(1);
    controller.abort();
    expect(stream.connections).toBe(0);

    const other = stream.fetch();
    const reader = frameReader(other.body!);
    expect((await reader.data()).name).toBe('web');
    stream.close();
    expect(stream.connections).toBe(0);
    await expect(
      (async () => {
        for (;;) await reader.next();
      })(),
    ).rejects.toThrow('stream ended');
  });

  it('maps a forced-closed breaker and validates options', () => {
    const breaker = new CircuitBreaker({ name: 'fc' });
    breaker.forceClose();
    const frame = hystrixCommand(breaker, 123);
    expect(frame).toMatchObject({
      currentTime: 123,
      isCircuitBreakerOpen: false,
      propertyValue_circuitBreakerForceClosed: true,
    });
    expect(() => createHystrixStream({ breakers: 'x' as never })).toThrow(TypeError);
    expect(() => createHystrixStream({ breakers: [], interval: 0 })).toThrow(RangeError);
    expect(() => createHystrixStream({ breakers: [], maxConnections: 0 })).toThrow(RangeError);
  });
});

describe('mounting the stream in each framework', () => {
  const mounts: Record<string, (stream: HystrixStreamHandler) => Promise<{ url: string; close: () => Promise<void> }>> =
    {
      async express(stream) {
        const app = express();
        app.get('/hystrix.stream', stream);
        const server = app.listen(0, '127.0.0.1');
        await new Promise((resolve) => server.once('listening', resolve));
        return { url: `${urlOf(server)}/hystrix.stream`, close: () => closeServer(server) };
      },
      async fastify(stream) {
        const app = Fastify({ forceCloseConnections: true });
        app.get('/hystrix.stream', (request, reply) => {
          reply.hijack();
          stream(request.raw, reply.raw);
        });
        const base = await app.listen({ port: 0, host: '127.0.0.1' });
        return { url: `${base}/hystrix.stream`, close: () => app.close() };
      },
      async koa(stream) {
        const app = new Koa();
        app.use((ctx) => {
          ctx.respond = false;
          stream(ctx.req, ctx.res);
        });
        const server = app.listen(0, '127.0.0.1');
        await new Promise((resolve) => server.once('listening', resolve));
        return { url: `${urlOf(server)}/hystrix.stream`, close: () => closeServer(server) };
      },
      async hono(stream) {
        const app = new Hono();
        app.get('/hystrix.stream', (c) => stream.fetch(c.req.raw));
        const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
        await new Promise((resolve) => server.once('listening', resolve));
        return { url: `${urlOf(server)}/hystrix.stream`, close: () => closeServer(server) };
      },
    };

  it.each(Object.keys(mounts))('%s', async (name) => {
    const breaker = new CircuitBreaker({ name: `in-${name}` });
    const stream = createHystrixStream({ breakers: [breaker], interval: 10 });
    const server = await mounts[name]!(stream);
    close = server.close;
    const controller = new AbortController();
    const res = await fetch(server.url, { signal: controller.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const frames = frameReader(res.body!);
    expect((await frames.data()).name).toBe(`in-${name}`);
    expect((await frames.data()).name).toBe(`in-${name}`);
    controller.abort();
    await frames.cancel().catch(() => {});
    await expect.poll(() => stream.connections).toBe(0);
  });
});

// Issue 11, item 5: only a streaming GET takes one of the connection slots.
describe('HEAD and other methods take no slot', () => {
  /** The stream's own interval timers (other code uses timers too). */
  function intervalsOf(ms: number) {
    const spy = vi.spyOn(globalThis, 'setInterval');
    return () => spy.mock.calls.filter((call) => call[1] === ms).length;
  }

  it('Hono, mounted as the README shows: HEAD gets the headers and no body, and GETs still get a slot', async () => {
    const started = intervalsOf(23);
    const stream = createHystrixStream({ breakers: [new CircuitBreaker({ name: 'h' })], interval: 23 });
    const app = new Hono();
    app.get('/hystrix.stream', (c) => stream.fetch(c.req.raw));
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    await new Promise((resolve) => server.once('listening', resolve));
    close = () => closeServer(server);
    const url = `${urlOf(server)}/hystrix.stream`;
    for (let i = 0; i < 6; i++) {
      const head = await fetch(url, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(await head.text()).toBe('');
    }
    expect(stream.connections).toBe(0);
    expect(started()).toBe(0); // no frames being built for nobody
    const controllers = Array.from({ length: 5 }, () => new AbortController());
    const gets = await Promise.all(controllers.map((c) => fetch(url, { signal: c.signal })));
    expect(gets.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect((await frameReader(gets[0]!.body!).data()).name).toBe('h');
    expect(stream.connections).toBe(5);
    // Full: HEAD answers what a GET would get (503), still without taking anything.
    expect((await fetch(url, { method: 'HEAD' })).status).toBe(503);
    for (const c of controllers) c.abort();
    await Promise.all(gets.map((r) => r.body?.cancel().catch(() => {})));
    await expect.poll(() => stream.connections).toBe(0);
  });

  it('Node handler: HEAD gets the headers only, other methods a 405, and neither takes a slot', async () => {
    const started = intervalsOf(29);
    const stream = createHystrixStream({
      breakers: [new CircuitBreaker({ name: 'n' })],
      interval: 29,
      maxConnections: 1,
    });
    const server = await listen((req, res) => stream(req, res));
    close = server.close;
    for (let i = 0; i < 6; i++) {
      const head = await fetch(server.url, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(await head.text()).toBe('');
    }
    const post = await fetch(server.url, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    await post.text();
    expect(stream.connections).toBe(0);
    expect(started()).toBe(0);
    const controller = new AbortController();
    const get = await fetch(server.url, { signal: controller.signal });
    expect(get.status).toBe(200);
    expect((await frameReader(get.body!).data()).name).toBe('n');
    expect(stream.connections).toBe(1);
    expect((await fetch(server.url, { method: 'HEAD' })).status).toBe(503);
    controller.abort();
    await get.body?.cancel().catch(() => {});
    await expect.poll(() => stream.connections).toBe(0);
  });

  it('Node handler: a client that left before the handler ran takes no slot', async () => {
    const stream = createHystrixStream({ breakers: [], interval: 31, maxConnections: 1 });
    const handled = deferred();
    const server = await listen((req, res) => {
      // A slow async middleware: the client is gone (and 'close' emitted) before the stream runs.
      res.once('close', () =>
        setImmediate(() => {
          stream(req, res);
          handled.resolve();
        }),
      );
    });
    close = server.close;
    const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n', () => socket.destroy());
    await handled.promise;
    expect(stream.connections).toBe(0);
  });

  it('web handler: a request other than GET/HEAD gets a 405', async () => {
    const stream = createHystrixStream({ breakers: [] });
    const res = stream.fetch(new Request('http://127.0.0.1/hystrix.stream', { method: 'DELETE' }));
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    await res.text();
    expect(stream.connections).toBe(0);
  });
});

// Issue 11, item 16 (Hystrix part) and user callbacks inside the tick.
describe('options are checked at construction; callbacks that throw are reported', () => {
  it.each(
    (
      [
        [{ executionTimeout: -1 }, RangeError, /executionTimeout must be >= 0, got -1/],
        [{ executionTimeout: Number.NaN }, RangeError, /executionTimeout must be a number, got NaN/],
        [{ executionTimeout: Number.POSITIVE_INFINITY }, RangeError, /executionTimeout must be finite, got Infinity/],
        [{ executionTimeout: '1000' }, TypeError, /executionTimeout must be a number, got "1000"/],
        [{ executionTimeout: null }, TypeError, /executionTimeout must be a number, got null/],
        [{ now: 5 }, TypeError, /now must be a function, got 5/],
        [{ now: null }, TypeError, /now must be a function, got null/],
        [{ interval: '10' }, TypeError, /interval must be a number, got "10"/],
        [{ interval: 2 ** 31 }, RangeError, /interval must be <= 2147483647, got 2147483648/],
        [{ interval: null }, TypeError, /interval must be a number, got null/],
        [{ maxConnections: 1.5 }, RangeError, /maxConnections must be an integer, got 1.5/],
        [{ maxConnections: '5' }, TypeError, /maxConnections must be a number, got "5"/],
        [{ maxBufferedBytes: 0 }, RangeError, /maxBufferedBytes must be >= 1, got 0/],
        [{ slowClientTimeout: -1 }, RangeError, /slowClientTimeout must be >= 0, got -1/],
        [{ intervall: 10 }, TypeError, /unknown option "intervall" \(did you mean "interval"\?\)/],
        [{ breakers: [{}] }, TypeError, /breakers\[0\] must be a breaker/],
        [{ breakers: null }, TypeError, /breakers must be an array of breakers or a function returning them, got null/],
      ] as const
    ).map(([bad, type, message]) => [bad, type.name, type, message] as const),
  )('%o → %s', (bad, _name, type, message) => {
    const options = { breakers: [], ...bad } as never;
    expect(() => createHystrixStream(options)).toThrow(type);
    expect(() => createHystrixStream(options)).toThrow(message);
    expect(() => createHystrixStream(options)).toThrow(/^createHystrixStream: /);
  });

  it('rejects missing options with a TypeError', () => {
    expect(() => createHystrixStream(undefined as never)).toThrow(TypeError);
    expect(() => createHystrixStream([] as never)).toThrow(TypeError);
  });

  it('accepts Infinity for slowClientTimeout and a function for executionTimeout', () => {
    expect(() =>
      createHystrixStream({ breakers: [], slowClientTimeout: Number.POSITIVE_INFINITY, executionTimeout: () => 1 }),
    ).not.toThrow();
  });

  it('reports a throwing now, breaker source, breaker or executionTimeout and keeps streaming', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const reports: [unknown, string][] = [];
    const previous = setErrorReporter((error, source) => reports.push([error, source]));
    try {
      const good = new CircuitBreaker({ name: 'good' });
      const broken = {
        ...hystrixSourceOf(good),
        name: 'broken',
        metrics: () => {
          throw new Error('metrics down');
        },
      };
      let fail: 'now' | 'nowNaN' | 'list' | 'none' = 'now';
      const stream = createHystrixStream({
        breakers: () => {
          if (fail === 'list') throw new Error('list down');
          return [broken, good];
        },
        interval: 10,
        now: () => {
          if (fail === 'now') throw new Error('clock down');
          return fail === 'nowNaN' ? Number.NaN : 42;
        },
        executionTimeout: (b) => {
          if (b === good && fail === 'now') throw new Error('timeout down');
          return fail === 'nowNaN' ? -5 : 7;
        },
      });
      const frames = frameReader(stream.fetch().body!);
      // First frame: now and executionTimeout threw, the broken breaker is left out.
      const first = await frames.data();
      expect(first).toMatchObject({
        name: 'good',
        currentTime: 1_000_000,
        propertyValue_executionTimeoutInMilliseconds: 0,
      });
      expect(reports.map(([, source]) => source).sort()).toEqual([
        'staunch/hystrix breaker',
        'staunch/hystrix executionTimeout',
        'staunch/hystrix now',
      ]);
      expect(reports.map(([error]) => (error as Error).message).sort()).toEqual([
        'clock down',
        'metrics down',
        'timeout down',
      ]);
      reports.length = 0;
      fail = 'nowNaN';
      await vi.advanceTimersByTimeAsync(10);
      const second = await frames.data();
      expect(second).toMatchObject({
        name: 'good',
        currentTime: 1_000_010,
        propertyValue_executionTimeoutInMilliseconds: 0,
      });
      expect(reports.map(([error, source]) => [source, (error as Error).name])).toEqual(
        expect.arrayContaining([
          ['staunch/hystrix now', 'TypeError'],
          ['staunch/hystrix executionTimeout', 'RangeError'],
        ]),
      );
      reports.length = 0;
      fail = 'list';
      await vi.advanceTimersByTimeAsync(10);
      expect(await frames.next()).toBe('ping: ');
      expect(reports).toEqual([[expect.objectContaining({ message: 'list down' }), 'staunch/hystrix breakers']]);
      fail = 'none';
      await vi.advanceTimersByTimeAsync(10);
      expect(await frames.data()).toMatchObject({
        name: 'good',
        currentTime: 42,
        propertyValue_executionTimeoutInMilliseconds: 7,
      });
      expect(stream.connections).toBe(1);
      await frames.cancel();
      expect(stream.connections).toBe(0);
    } finally {
      setErrorReporter(previous);
    }
  });

  it('reports a Node response whose write throws and drops that client', () => {
    vi.useFakeTimers();
    const reports: string[] = [];
    const previous = setErrorReporter((_error, source) => reports.push(source));
    try {
      const stream = createHystrixStream({ breakers: [], interval: 10 });
      let writes = 0;
      const res = {
        writeHead: () => {},
        write: () => {
          if (++writes > 1) throw new Error('socket gone');
        },
        end: () => {},
        on: () => {},
        removeListener: () => {},
      };
      stream({ method: 'GET', on: () => {}, removeListener: () => {} }, res);
      expect(stream.connections).toBe(1);
      vi.advanceTimersByTime(10);
      expect(reports).toEqual(['staunch/hystrix response write']);
      expect(stream.connections).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      setErrorReporter(previous);
    }
  });
});

function hystrixSourceOf(breaker: CircuitBreaker): HystrixBreakerSource {
  return {
    name: breaker.name,
    group: breaker.group,
    errorThresholdPercentage: breaker.errorThresholdPercentage,
    volumeThreshold: breaker.volumeThreshold,
    rollingWindow: breaker.rollingWindow,
    buckets: breaker.buckets,
    sleepWindow: breaker.sleepWindow,
    state: breaker.state,
    metrics: () => breaker.metrics(),
  };
}
