import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import Koa from 'koa';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from '../../src/breaker/index.js';
import {
  createHystrixStream,
  type HystrixStreamHandler,
  hystrixCommand,
} from '../../src/integrations/hystrix/index.js';
import { closeServer, listen } from './helpers.js';

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
