/**
 * `staunch/hystrix` — serves the Hystrix dashboard's event stream (`text/event-stream` frames of
 * `HystrixCommand` objects) for a set of circuit breakers: as a Node `(req, res)` handler, and as
 * a web-standard `(Request) => Response` handler for fetch-style servers (Hono, Deno, Bun).
 *
 * @packageDocumentation
 */

import type { CircuitBreakerMetrics, CircuitState, Percentile } from '../../index.js';

/** The latency percentile keys of the stream (Hystrix's): the breaker's own. */
export type HystrixPercentile = Percentile;

/** The breaker states the stream understands: the breaker's own. */
export type HystrixBreakerState = CircuitState;

/**
 * What the stream reads from a breaker: structurally a staunch `CircuitBreaker` (any object with
 * these members works, e.g. an adapter over another library's breaker, or a breaker from a
 * duplicate copy of the package).
 */
export interface HystrixBreakerSource {
  readonly name: string;
  readonly group: string;
  readonly errorThresholdPercentage: number;
  readonly volumeThreshold: number;
  /** The rolling window, in milliseconds. */
  readonly rollingWindow: number;
  readonly buckets: number;
  /** The sleep window, in milliseconds. */
  readonly sleepWindow: number;
  readonly state: HystrixBreakerState;
  /** The rolling counts and latencies (see `CircuitBreaker.metrics()`). */
  metrics(): CircuitBreakerMetrics;
}

/** Options of {@link createHystrixStream}. */
export interface HystrixStreamOptions {
  /** The breakers to report: a list, or a function called on every tick (for breakers that come and go). */
  readonly breakers: readonly HystrixBreakerSource[] | (() => Iterable<HystrixBreakerSource>);
  /** Milliseconds between frames. Default 500 (Hystrix's). */
  readonly interval?: number;
  /** The most concurrent stream clients; more get a 503. Default 5 (Hystrix's). */
  readonly maxConnections?: number;
  /**
   * The execution timeout reported as `propertyValue_executionTimeoutInMilliseconds`, in
   * milliseconds, per breaker (e.g. the `Timeout` you put next to it). Default 0 (none).
   */
  readonly executionTimeout?: number | ((breaker: HystrixBreakerSource) => number);
  /** Wall-clock milliseconds for `currentTime`. Default `Date.now`. */
  readonly now?: () => number;
}

/** One `HystrixCommand` frame, as the dashboard reads it. */
export interface HystrixCommandFrame {
  readonly type: 'HystrixCommand';
  readonly name: string;
  readonly group: string;
  readonly currentTime: number;
  readonly isCircuitBreakerOpen: boolean;
  readonly errorPercentage: number;
  readonly errorCount: number;
  readonly requestCount: number;
  readonly [field: string]: unknown;
}

/** The minimal Node request the handler needs. */
export interface NodeStreamRequest {
  /** Subscribes to the client's disconnect. */
  on(event: 'close', listener: () => void): unknown;
  /** Unsubscribes from the client's disconnect. */
  removeListener(event: 'close', listener: () => void): unknown;
}

/** The minimal Node response the handler needs. */
export interface NodeStreamResponse {
  /** Sends the status line and headers. */
  writeHead(status: number, headers: Record<string, string>): unknown;
  /** Sends a chunk of the event stream. */
  write(chunk: string): unknown;
  /** Ends the response. */
  end(chunk?: string): unknown;
  /** Subscribes to the connection's close. */
  on(event: 'close', listener: () => void): unknown;
  /** Unsubscribes from the connection's close. */
  removeListener(event: 'close', listener: () => void): unknown;
  /** Sends the headers at once, where the server buffers them. */
  flushHeaders?(): void;
}

/** The stream handler: call it as a Node request handler; `fetch` serves web-standard requests. */
export interface HystrixStreamHandler {
  /** Serves one client with Node's `http` API (Express, Koa's `ctx.req/res`, Fastify's `raw`). */
  (req: NodeStreamRequest, res: NodeStreamResponse): void;
  /** Serves one client as a web `Response` with a streamed body (Hono, Deno, Bun, workers). */
  fetch(request?: Request): Response;
  /** Clients connected now. */
  readonly connections: number;
  /** Ends every client's stream (e.g. before closing the server). */
  close(): void;
}

const PERCENTILES: readonly HystrixPercentile[] = ['0', '25', '50', '75', '90', '95', '99', '99.5', '100'];
const HEADERS: Record<string, string> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-store, max-age=0, must-revalidate',
  pragma: 'no-cache',
};
// Connection headers are HTTP/1-only: Node's handler sets one, the web handler leaves it to the runtime.
const NODE_HEADERS: Record<string, string> = { ...HEADERS, connection: 'keep-alive' };
const OWNER = 'createHystrixStream';

/** Builds the `HystrixCommand` object of one breaker now. */
export function hystrixCommand(
  breaker: HystrixBreakerSource,
  currentTime: number = Date.now(),
  executionTimeout = 0,
): HystrixCommandFrame {
  const m = breaker.metrics();
  const latency: Record<string, number> = {};
  for (const p of PERCENTILES) latency[p] = Math.round(m.latency.percentiles[p]);
  const mean = Math.round(m.latency.mean);
  const state = m.state;
  return {
    type: 'HystrixCommand',
    name: breaker.name,
    group: breaker.group,
    currentTime,
    // Hystrix reports a half-open breaker as open: it is not closed until a trial succeeds.
    isCircuitBreakerOpen: state === 'open' || state === 'half-open' || state === 'isolated',
    errorPercentage: m.errorPercentage,
    errorCount: m.errors,
    requestCount: m.requests,
    rollingCountBadRequests: 0,
    rollingCountCollapsedRequests: 0,
    rollingCountEmit: 0,
    rollingCountExceptionsThrown: 0,
    rollingCountFailure: m.failures,
    rollingCountFallbackEmit: 0,
    rollingCountFallbackFailure: m.fallbackFailures,
    rollingCountFallbackMissing: 0,
    rollingCountFallbackRejection: 0,
    rollingCountFallbackSuccess: m.fallbackSuccesses,
    rollingCountResponsesFromCache: 0,
    rollingCountSemaphoreRejected: m.rejections,
    rollingCountShortCircuited: m.shortCircuits,
    rollingCountSuccess: m.successes,
    rollingCountThreadPoolRejected: 0,
    rollingCountTimeout: m.timeouts,
    currentConcurrentExecutionCount: m.concurrent,
    rollingMaxConcurrentExecutionCount: m.concurrent,
    latencyExecute_mean: mean,
    latencyExecute: latency,
    latencyTotal_mean: mean,
    latencyTotal: latency,
    propertyValue_circuitBreakerRequestVolumeThreshold: breaker.volumeThreshold,
    propertyValue_circuitBreakerSleepWindowInMilliseconds: breaker.sleepWindow,
    propertyValue_circuitBreakerErrorThresholdPercentage: breaker.errorThresholdPercentage,
    propertyValue_circuitBreakerForceOpen: state === 'isolated',
    propertyValue_circuitBreakerForceClosed: state === 'forced-closed',
    propertyValue_circuitBreakerEnabled: true,
    propertyValue_executionIsolationStrategy: 'SEMAPHORE',
    propertyValue_executionIsolationThreadTimeoutInMilliseconds: executionTimeout,
    propertyValue_executionTimeoutInMilliseconds: executionTimeout,
    propertyValue_executionIsolationThreadInterruptOnTimeout: false,
    propertyValue_executionIsolationThreadPoolKeyOverride: null,
    propertyValue_executionIsolationSemaphoreMaxConcurrentRequests: 0,
    propertyValue_fallbackIsolationSemaphoreMaxConcurrentRequests: 0,
    propertyValue_metricsRollingStatisticalWindowInMilliseconds: breaker.rollingWindow,
    propertyValue_requestCacheEnabled: false,
    propertyValue_requestLogEnabled: false,
    reportingHosts: 1,
    threadPool: breaker.group,
  };
}

/**
 * Creates the event-stream handler. Each connected client gets, every `interval` ms, one
 * `data: {...}\n\n` frame per breaker (a `ping: \n\n` frame when there is none, as Hystrix does).
 * At most `maxConnections` clients; the next gets a 503. One interval timer serves all clients;
 * it exists only while a client is connected.
 *
 * @example
 * const stream = createHystrixStream({ breakers: [paymentsBreaker] });
 * http.createServer((req, res) => req.url === '/hystrix.stream' ? stream(req, res) : ...);
 */
export function createHystrixStream(options: HystrixStreamOptions): HystrixStreamHandler {
  if (typeof options !== 'object' || options === null) throw new TypeError(`${OWNER}: options are required`);
  const source = options.breakers;
  if (typeof source !== 'function' && !Array.isArray(source)) {
    throw new TypeError(`${OWNER}: breakers must be an array of breakers or a function returning them`);
  }
  const interval = options.interval ?? 500;
  if (typeof interval !== 'number' || !Number.isFinite(interval) || interval < 1) {
    throw new RangeError(`${OWNER}: interval must be a number of milliseconds >= 1, got ${String(interval)}`);
  }
  const maxConnections = options.maxConnections ?? 5;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new RangeError(`${OWNER}: maxConnections must be an integer >= 1, got ${String(maxConnections)}`);
  }
  const timeoutOf = options.executionTimeout;
  const now = options.now ?? Date.now;

  const clients = new Set<(frame: string) => void>();
  const closers = new Set<() => void>();
  let timer: ReturnType<typeof setInterval> | undefined;

  const frames = (): string => {
    const time = now();
    let text = '';
    const list = typeof source === 'function' ? source() : source;
    for (const breaker of list) {
      const timeout = typeof timeoutOf === 'function' ? timeoutOf(breaker) : (timeoutOf ?? 0);
      text += `data: ${JSON.stringify(hystrixCommand(breaker, time, timeout))}\n\n`;
    }
    return text === '' ? 'ping: \n\n' : text;
  };
  const tick = (): void => {
    let text: string;
    try {
      text = frames();
    } catch (error) {
      // A failing breaker source must not kill the stream; report it like an uncaught error.
      queueMicrotask(() => {
        throw error;
      });
      return;
    }
    for (const send of clients) send(text);
  };

  /** Registers a client; returns its removal, or undefined when the limit is reached. */
  const connect = (send: (frame: string) => void, end: () => void): (() => void) | undefined => {
    if (clients.size >= maxConnections) return undefined;
    clients.add(send);
    closers.add(end);
    timer ??= setInterval(tick, interval);
    let connected = true;
    return () => {
      if (!connected) return;
      connected = false;
      clients.delete(send);
      closers.delete(end);
      if (clients.size === 0 && timer !== undefined) {
        clearInterval(timer);
        timer = undefined;
      }
    };
  };

  const tooMany = `Too many Hystrix stream connections (max ${maxConnections})`;

  const handler = ((req: NodeStreamRequest, res: NodeStreamResponse): void => {
    let disconnect: (() => void) | undefined;
    const onClose = (): void => {
      req.removeListener('close', onClose);
      res.removeListener('close', onClose);
      disconnect?.();
    };
    disconnect = connect(
      (text) => {
        res.write(text);
      },
      () => {
        onClose();
        res.end();
      },
    );
    if (disconnect === undefined) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(tooMany);
      return;
    }
    res.on('close', onClose);
    req.on('close', onClose);
    res.writeHead(200, NODE_HEADERS);
    res.flushHeaders?.();
    // First frame at once, so the dashboard shows something before the first interval.
    res.write(safeFrames(frames));
  }) as HystrixStreamHandler;

  handler.fetch = (request?: Request): Response => {
    const encoder = new TextEncoder();
    let disconnect: (() => void) | undefined;
    let onAbort: (() => void) | undefined;
    const cleanup = (): void => {
      if (onAbort !== undefined) request?.signal.removeEventListener('abort', onAbort);
      disconnect?.();
    };
    let ctrl!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        ctrl = controller;
      },
      cancel() {
        cleanup();
      },
    });
    disconnect = connect(
      (text) => ctrl.enqueue(encoder.encode(text)),
      () => {
        cleanup();
        ctrl.close();
      },
    );
    if (disconnect === undefined) {
      return new Response(tooMany, { status: 503, headers: { 'content-type': 'text/plain; charset=utf-8' } });
    }
    if (request !== undefined) {
      onAbort = (): void => {
        cleanup();
        try {
          ctrl.close();
        } catch {
          // Already closed or errored by the consumer.
        }
      };
      request.signal.addEventListener('abort', onAbort, { once: true });
    }
    ctrl.enqueue(encoder.encode(safeFrames(frames)));
    return new Response(body, { status: 200, headers: HEADERS });
  };

  Object.defineProperty(handler, 'connections', { get: () => clients.size });
  handler.close = (): void => {
    for (const end of [...closers]) end();
  };
  return handler;
}

function safeFrames(frames: () => string): string {
  try {
    return frames();
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
    return 'ping: \n\n';
  }
}
