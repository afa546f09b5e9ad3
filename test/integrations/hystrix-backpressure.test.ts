// Issue 11, item 4: a Hystrix stream client that never reads must not grow the server's memory
// without bound (Node and web handlers), and a client that reads must still get every round.
import type { ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from '../../src/breaker/index.js';
import { createHystrixStream, type HystrixBreakerSource } from '../../src/integrations/hystrix/index.js';
import { listen } from './helpers.js';

const INTERVAL = 100;
/** A breaker whose frames are about `size` bytes long, so buffers fill in few rounds. */
function bigBreaker(size: number): HystrixBreakerSource {
  const real = new CircuitBreaker({ name: 'big' });
  return {
    name: 'x'.repeat(size),
    group: 'big',
    errorThresholdPercentage: 50,
    volumeThreshold: 20,
    rollingWindow: 10_000,
    buckets: 10,
    sleepWindow: 5000,
    state: 'closed',
    metrics: () => real.metrics(),
  };
}

/** Reads `data:` frames' `currentTime` from a streamed body. */
function timesReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    async next(): Promise<number> {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (frame.startsWith('data: ')) return (JSON.parse(frame.slice(6)) as { currentTime: number }).currentTime;
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buffer += decoder.decode(value, { stream: true });
      }
    },
    cancel: () => reader.cancel().catch(() => {}),
  };
}

/** Real I/O turns (setImmediate is not faked here). */
const ioTurn = () => new Promise((resolve) => setImmediate(resolve));

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

/** Opens a streaming GET on a raw socket that never reads a byte of the answer. */
async function stalledClient(url: string): Promise<Socket> {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  socket.pause();
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(`GET /hystrix.stream HTTP/1.1\r\nhost: 127.0.0.1\r\nx-stalled: 1\r\n\r\n`);
  return socket;
}

describe('Hystrix stream backpressure: Node handler', () => {
  it('keeps what a client that never reads holds under maxBufferedBytes, while a reading client gets every round', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const FRAME = 256 * 1024;
    // Room for 3 rounds: the reading client (whose round has arrived before the next one is made)
    // never comes near it, the stalled one does.
    const BOUND = 1024 * 1024;
    let time = 0;
    const stream = createHystrixStream({
      breakers: [bigBreaker(FRAME)],
      interval: INTERVAL,
      now: () => ++time,
      maxBufferedBytes: BOUND,
      slowClientTimeout: Number.POSITIVE_INFINITY,
    });
    let stalledRes: ServerResponse | undefined;
    const server = await listen((req, res) => {
      if (req.headers['x-stalled'] !== undefined) stalledRes = res;
      stream(req, res);
    });
    const socket = await stalledClient(server.url);
    const controller = new AbortController();
    cleanup = async () => {
      controller.abort();
      socket.destroy();
      stream.close();
      await server.close();
    };
    await expect.poll(() => stream.connections).toBe(1);
    const reading = timesReader((await fetch(server.url, { signal: controller.signal })).body!);
    let expected = await reading.next(); // its first frame, sent on connect
    expect(stream.connections).toBe(2);

    // Keep producing rounds until the stalled client's kernel buffers are full and the server has
    // had to hold frames for it, then many more rounds: what it holds must stay bounded.
    let most = 0;
    let afterFull = 0;
    let rounds = 0;
    while (afterFull < 40) {
      rounds++;
      expect(rounds, 'the stalled client never filled its buffers').toBeLessThan(400);
      vi.advanceTimersByTime(INTERVAL);
      // The reading client gets this round, and every one before it, in order.
      expect(await reading.next()).toBe(++expected);
      for (let i = 0; i < 3; i++) await ioTurn();
      const held = stalledRes!.writableLength;
      most = Math.max(most, held);
      if (most >= BOUND / 2) afterFull++;
    }
    // One round always fits into an empty buffer: the bound is max(BOUND, one round) + a round.
    expect(most).toBeLessThanOrEqual(BOUND + FRAME + 4096);
    expect(stream.connections).toBe(2);
    await reading.cancel();
  });

  it('disconnects a client that stayed full for slowClientTimeout, freeing its slot', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const FRAME = 256 * 1024;
    const stream = createHystrixStream({
      breakers: [bigBreaker(FRAME)],
      interval: INTERVAL,
      maxConnections: 1,
      maxBufferedBytes: 64 * 1024,
      slowClientTimeout: 5 * INTERVAL,
    });
    let stalledRes: ServerResponse | undefined;
    const server = await listen((req, res) => {
      if (req.headers['x-stalled'] !== undefined) stalledRes = res;
      stream(req, res);
    });
    const socket = await stalledClient(server.url);
    cleanup = async () => {
      socket.destroy();
      stream.close();
      await server.close();
    };
    await expect.poll(() => stream.connections).toBe(1);
    let rounds = 0;
    let lastTaken = 0;
    while (stream.connections > 0) {
      rounds++;
      expect(rounds, 'the stalled client was never disconnected').toBeLessThan(400);
      // An empty buffer takes this round (and resets the count); any round held (256 KiB, over
      // the 64 KiB bound) makes it drop the next.
      if (stalledRes!.writableLength === 0) lastTaken = rounds;
      vi.advanceTimersByTime(INTERVAL);
      for (let i = 0; i < 3; i++) await ioTurn();
    }
    // Disconnected at the 5th round dropped in a row (500 ms / 100 ms).
    expect(lastTaken).toBeGreaterThan(0);
    expect(rounds - lastTaken).toBe(5);
    expect(stalledRes!.destroyed).toBe(true);
    // The slot is free again: a new client is served.
    const controller = new AbortController();
    const res = await fetch(server.url, { signal: controller.signal });
    expect(res.status).toBe(200);
    controller.abort();
    await res.body?.cancel().catch(() => {});
    await expect.poll(() => stream.connections).toBe(0);
  });
});

describe('Hystrix stream backpressure: web handler', () => {
  it('keeps the queue of a body never read under maxBufferedBytes, while a read body gets every round', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const FRAME = 16 * 1024;
    const BOUND = 64 * 1024;
    let time = 0;
    const stream = createHystrixStream({
      breakers: [bigBreaker(FRAME)],
      interval: INTERVAL,
      now: () => ++time,
      maxBufferedBytes: BOUND,
      slowClientTimeout: Number.POSITIVE_INFINITY,
    });
    const neverRead = stream.fetch(new Request('http://127.0.0.1/hystrix.stream'));
    const reading = timesReader(stream.fetch(new Request('http://127.0.0.1/hystrix.stream')).body!);
    let expected = await reading.next();
    for (let i = 0; i < 200; i++) {
      vi.advanceTimersByTime(INTERVAL);
      expect(await reading.next()).toBe(++expected);
    }
    expect(stream.connections).toBe(2);
    // End the streams, then count what the unread body was holding.
    stream.close();
    const reader = neverRead.body!.getReader();
    let held = 0;
    let frames = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      held += value.byteLength;
      frames++;
    }
    expect(held).toBeLessThanOrEqual(BOUND + FRAME + 4096);
    // It was filled (the bound was exercised), not merely left empty: 200 rounds were dropped down to a few.
    expect(held).toBeGreaterThan(BOUND - FRAME - 4096);
    expect(frames).toBeLessThan(10);
    await reading.cancel();
  });

  it('errors the body of a client that stayed full for slowClientTimeout, freeing its slot', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const stream = createHystrixStream({
      breakers: [bigBreaker(16 * 1024)],
      interval: INTERVAL,
      maxConnections: 1,
      maxBufferedBytes: 32 * 1024,
      slowClientTimeout: 3 * INTERVAL,
    });
    const neverRead = stream.fetch(new Request('http://127.0.0.1/hystrix.stream'));
    expect(stream.connections).toBe(1);
    // The first frame (≈ 18 KiB, sent on connect) is held; no further round fits beside it under
    // 32 KiB: 3 drops in a row (300 ms / 100 ms) disconnect it.
    let rounds = 0;
    while (stream.connections > 0) {
      rounds++;
      expect(rounds).toBeLessThan(10);
      vi.advanceTimersByTime(INTERVAL);
    }
    expect(rounds).toBe(3);
    expect(vi.getTimerCount()).toBe(0);
    await expect(neverRead.body!.getReader().read()).rejects.toThrow(/did not read for 300 ms/);
    // A reading client is never disconnected.
    const again = stream.fetch(new Request('http://127.0.0.1/hystrix.stream'));
    expect(again.status).toBe(200);
    const reading = timesReader(again.body!);
    await reading.next();
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(INTERVAL);
      await reading.next();
    }
    expect(stream.connections).toBe(1);
    await reading.cancel();
    expect(stream.connections).toBe(0);
  });
});
