/**
 * `staunch/hystrix` — serves the Hystrix dashboard's event stream (`text/event-stream` frames of
 * `HystrixCommand` objects) for a set of circuit breakers: as a Node `(req, res)` handler, and as
 * a web-standard `(Request) => Response` handler for fetch-style servers (Hono, Deno, Bun).
 *
 * @packageDocumentation
 * @module staunch/hystrix
 */

import { reportError } from '../../core/report.js';
import {
  checkNumber,
  checkOptions,
  functionOption,
  MAX_TIMER_DELAY,
  numberOption,
  showValue,
} from '../../core/validate.js';
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

/** Options of {@link createHystrixStream}. Unknown option names are rejected (`TypeError`). */
export interface HystrixStreamOptions {
  /**
   * The breakers to report: a list (checked at construction: each must have `metrics()`), or a
   * function called on every tick (for breakers that come and go). A function, or a breaker, that
   * throws while a round of frames is built is reported through `setErrorReporter` (source
   * `'staunch/hystrix breakers'` / `'staunch/hystrix breaker'`) and left out of that round; the
   * stream goes on.
   */
  readonly breakers: readonly HystrixBreakerSource[] | (() => Iterable<HystrixBreakerSource>);
  /** Milliseconds between frames, `>= 1` and `<= 2^31 - 1`. Default 500 (Hystrix's). */
  readonly interval?: number;
  /**
   * The most concurrent stream clients (an integer `>= 1`); more get a 503. Default 5 (Hystrix's).
   * Only streaming `GET` requests take a slot: a `HEAD` request gets the headers and no body, any
   * other method a 405, and neither holds a slot nor keeps frames being built.
   */
  readonly maxConnections?: number;
  /**
   * The execution timeout reported as `propertyValue_executionTimeoutInMilliseconds`, in
   * milliseconds (a finite number `>= 0`), per breaker (e.g. the `Timeout` you put next to it).
   * Default 0 (none). A function is called for each breaker on every tick; if it throws or returns
   * anything but a finite number `>= 0`, that is reported through `setErrorReporter` (source
   * `'staunch/hystrix executionTimeout'`) and 0 is sent for that frame.
   */
  readonly executionTimeout?: number | ((breaker: HystrixBreakerSource) => number);
  /**
   * Wall-clock milliseconds for `currentTime`. Default `Date.now`. If it throws or returns anything
   * but a finite number, that is reported through `setErrorReporter` (source
   * `'staunch/hystrix now'`) and `Date.now()` is used for that round.
   */
  readonly now?: () => number;
  /**
   * Backpressure: the most bytes of frames held for one client that is not reading them, in bytes
   * (an integer `>= 1`). Default 1 MiB (1,048,576). Frames are held where the server buffers them:
   * the Node response's `writableLength`, or the queue of the web handler's `ReadableStream`. When
   * a round of frames would not fit, the whole round is dropped for that client (never a part of a
   * frame; the dashboard shows the next round it can take — each round is a full snapshot, so
   * nothing is lost but resolution). A round always fits into an empty buffer, so a client holds
   * at most `max(maxBufferedBytes, one round)` bytes.
   */
  readonly maxBufferedBytes?: number;
  /**
   * How long a client may go on not reading, in milliseconds (a number `>= 0`, or `Infinity` for
   * never), before it is disconnected (the Node socket destroyed, the web stream errored), freeing
   * its buffer and its connection slot. Counted in ticks: a client that had to drop
   * `ceil(slowClientTimeout / interval)` rounds in a row (at least one) is disconnected; a round it
   * takes resets the count. Default 30,000 (30 s).
   */
  readonly slowClientTimeout?: number;
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
  /**
   * The request method. `GET` (or none) streams; `HEAD` gets the headers only; any other method
   * gets a 405.
   */
  readonly method?: string | undefined;
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
  /**
   * Bytes written but not yet sent (Node's `writableLength`): how the handler sees a client that
   * does not read (see `maxBufferedBytes`). Without it the handler cannot bound a client's buffer.
   */
  readonly writableLength?: number | undefined;
  /** Drops the connection at once: how a client that stopped reading is disconnected. Else `end()`. */
  destroy?(): unknown;
  /**
   * True once the connection is gone (Node's `destroyed`): a client that left before the handler
   * ran (e.g. behind a slow async middleware) takes no slot.
   */
  readonly destroyed?: boolean | undefined;
}

/** The stream handler: call it as a Node request handler; `fetch` serves web-standard requests. */
export interface HystrixStreamHandler {
  /**
   * Serves one client with Node's `http` API (Express, Koa's `ctx.req/res`, Fastify's `raw`). A
   * `GET` streams (or gets a 503 when `maxConnections` clients are connected); a `HEAD` gets the
   * same status and headers with no body; any other method gets a 405. Only a `GET` takes a slot.
   */
  (req: NodeStreamRequest, res: NodeStreamResponse): void;
  /**
   * Serves one client as a web `Response` with a streamed body (Hono, Deno, Bun, workers); methods
   * as for the Node handler (no `request`: a `GET`). The stream ends when the request's signal
   * aborts or the body is cancelled.
   */
  fetch(request?: Request): Response;
  /** Streaming clients connected now (`HEAD` and refused requests never count). */
  readonly connections: number;
  /**
   * Ends every client's stream (e.g. before closing the server). A Node client that is not reading
   * is destroyed rather than ended, since it would never take the end.
   */
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
 * At most `maxConnections` clients; the next gets a 503. Only a streaming `GET` is a client: `HEAD`
 * gets the headers and no body, any other method a 405 (`allow: GET, HEAD`). One interval timer
 * serves all clients; it exists only while a client is connected. A client that does not read has
 * rounds of frames dropped once `maxBufferedBytes` are waiting for it, and is disconnected after
 * `slowClientTimeout` ms of that. Errors thrown by the breakers, `now` or `executionTimeout` are
 * reported through `setErrorReporter` and never stop the stream.
 *
 * @throws TypeError / RangeError at once for a bad or unknown option, naming it and its value.
 *
 * @example
 * const stream = createHystrixStream({ breakers: [paymentsBreaker] });
 * http.createServer((req, res) => req.url === '/hystrix.stream' ? stream(req, res) : ...);
 */
export function createHystrixStream(options: HystrixStreamOptions): HystrixStreamHandler {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${OWNER}: options must be an object with breakers, got ${showValue(options)}`);
  }
  checkOptions(OWNER, options, KNOWN);
  const source = options.breakers;
  if (typeof source !== 'function' && !Array.isArray(source)) {
    throw new TypeError(
      `${OWNER}: breakers must be an array of breakers or a function returning them, got ${showValue(source)}`,
    );
  }
  if (Array.isArray(source)) {
    source.forEach((breaker: unknown, i) => {
      if (
        typeof breaker !== 'object' ||
        breaker === null ||
        typeof (breaker as HystrixBreakerSource).metrics !== 'function'
      ) {
        throw new TypeError(
          `${OWNER}: breakers[${i}] must be a breaker (an object with metrics()), got ${showValue(breaker)}`,
        );
      }
    });
  }
  const interval = numberOption(OWNER, 'interval', options.interval, 500, { min: 1, max: MAX_TIMER_DELAY });
  const maxConnections = numberOption(OWNER, 'maxConnections', options.maxConnections, 5, { min: 1, integer: true });
  const timeoutOf = options.executionTimeout;
  if (typeof timeoutOf !== 'function' && timeoutOf !== undefined) checkTimeout(timeoutOf);
  const now = functionOption<() => number>(OWNER, 'now', options.now) ?? Date.now;
  const maxBuffered = numberOption(OWNER, 'maxBufferedBytes', options.maxBufferedBytes, 1_048_576, {
    min: 1,
    integer: true,
  });
  const slowClientTimeout = numberOption(OWNER, 'slowClientTimeout', options.slowClientTimeout, 30_000, {
    min: 0,
    allowInfinity: true,
  });
  // Rounds a client may drop in a row before it is disconnected.
  const maxDropped = Math.max(1, Math.ceil(slowClientTimeout / interval));

  const clients = new Set<Client>();
  let timer: ReturnType<typeof setInterval> | undefined;
  const encoder = new TextEncoder();

  const currentTime = (): number => {
    try {
      const time = now();
      if (typeof time === 'number' && Number.isFinite(time)) return time;
      reportError(
        new TypeError(`${OWNER}: now() must return a finite number, got ${showValue(time)}`),
        `${SOURCE} now`,
      );
    } catch (error) {
      reportError(error, `${SOURCE} now`);
    }
    return Date.now();
  };
  const timeoutFor = (breaker: HystrixBreakerSource): number => {
    if (typeof timeoutOf !== 'function') return timeoutOf ?? 0;
    try {
      return checkTimeout(timeoutOf(breaker));
    } catch (error) {
      reportError(error, `${SOURCE} executionTimeout`);
      return 0;
    }
  };
  /** Builds one round of frames. Never throws: what fails is reported and left out. */
  const frames = (): string => {
    const time = currentTime();
    let text = '';
    try {
      const list = typeof source === 'function' ? source() : source;
      for (const breaker of list) {
        let frame: string;
        try {
          frame = `data: ${JSON.stringify(hystrixCommand(breaker, time, timeoutFor(breaker)))}\n\n`;
        } catch (error) {
          reportError(error, `${SOURCE} breaker`);
          continue;
        }
        text += frame;
      }
    } catch (error) {
      reportError(error, `${SOURCE} breakers`);
    }
    return text === '' ? 'ping: \n\n' : text;
  };
  const tick = (): void => {
    if (clients.size === 0) return;
    const text = frames();
    const bytes = encoder.encode(text).byteLength;
    for (const client of [...clients]) {
      let taken: boolean;
      try {
        taken = client.offer(text, bytes);
      } catch (error) {
        // A response that fails (e.g. a throwing writableLength getter) loses its client.
        reportError(error, `${SOURCE} response`);
        client.kick();
        continue;
      }
      if (taken) {
        client.dropped = 0;
      } else if (++client.dropped >= maxDropped) {
        // It has not read for slowClientTimeout: free its buffer and its slot.
        client.kick();
      }
    }
  };

  /** Registers a client; returns false when the limit is reached. */
  const connect = (client: Client): boolean => {
    if (clients.size >= maxConnections) return false;
    clients.add(client);
    timer ??= setInterval(tick, interval);
    return true;
  };
  const disconnect = (client: Client): void => {
    if (!clients.delete(client)) return;
    if (clients.size === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  const tooMany = `Too many Hystrix stream connections (max ${maxConnections})`;
  const TEXT = { 'content-type': 'text/plain; charset=utf-8' };

  const handler = ((req: NodeStreamRequest, res: NodeStreamResponse): void => {
    const method = streamMethod(req.method);
    if (method === 'other') {
      res.writeHead(405, { ...TEXT, allow: ALLOW });
      res.end('Method Not Allowed: the Hystrix stream answers GET (and HEAD)');
      return;
    }
    if (method === 'HEAD') {
      // The headers a GET would get now, no body, no slot.
      if (clients.size >= maxConnections) res.writeHead(503, TEXT);
      else res.writeHead(200, NODE_HEADERS);
      res.end();
      return;
    }
    const onClose = (): void => {
      req.removeListener('close', onClose);
      res.removeListener('close', onClose);
      disconnect(client);
    };
    const buffered = (): number => {
      const length = res.writableLength;
      return typeof length === 'number' && Number.isFinite(length) ? length : 0;
    };
    const write = (text: string): boolean => {
      try {
        res.write(text);
        return true;
      } catch (error) {
        reportError(error, `${SOURCE} response write`);
        client.kick();
        return false;
      }
    };
    const client: Client = {
      dropped: 0,
      offer(text, bytes) {
        if (res.destroyed === true) {
          // Gone without a 'close' we saw: free the slot.
          onClose();
          return true;
        }
        const held = buffered();
        if (held > 0 && held + bytes > maxBuffered) return false;
        return write(text);
      },
      end() {
        onClose();
        // A client that cannot take what it has would never see the end: drop it instead.
        guarded(() => {
          if (client.dropped > 0 && typeof res.destroy === 'function') res.destroy();
          else res.end();
        }, 'response end');
      },
      kick() {
        onClose();
        guarded(() => {
          if (typeof res.destroy === 'function') res.destroy();
          else res.end();
        }, 'response destroy');
      },
    };
    if (!connect(client)) {
      res.writeHead(503, TEXT);
      res.end(tooMany);
      return;
    }
    res.on('close', onClose);
    req.on('close', onClose);
    if (res.destroyed === true) {
      // The client left before the handler ran: its 'close' has been and gone.
      onClose();
      return;
    }
    res.writeHead(200, NODE_HEADERS);
    res.flushHeaders?.();
    // First frame at once, so the dashboard shows something before the first interval.
    write(frames());
  }) as HystrixStreamHandler;

  handler.fetch = (request?: Request): Response => {
    const method = streamMethod(request?.method);
    if (method === 'other') {
      return new Response('Method Not Allowed: the Hystrix stream answers GET (and HEAD)', {
        status: 405,
        headers: { ...TEXT, allow: ALLOW },
      });
    }
    if (method === 'HEAD') {
      return clients.size >= maxConnections
        ? new Response(null, { status: 503, headers: TEXT })
        : new Response(null, { status: 200, headers: HEADERS });
    }
    let onAbort: (() => void) | undefined;
    const cleanup = (): void => {
      if (onAbort !== undefined) request?.signal.removeEventListener('abort', onAbort);
      disconnect(client);
    };
    let ctrl!: ReadableStreamDefaultController<Uint8Array>;
    // The stream's queue is the client's buffer: its size is counted in bytes.
    const body = new ReadableStream<Uint8Array>(
      {
        start(controller) {
          ctrl = controller;
        },
        cancel() {
          cleanup();
        },
      },
      { highWaterMark: maxBuffered, size: (chunk) => chunk.byteLength },
    );
    const enqueue = (chunk: Uint8Array): boolean => {
      try {
        ctrl.enqueue(chunk);
        return true;
      } catch {
        // Closed or errored by the consumer.
        cleanup();
        return false;
      }
    };
    const finish = (how: 'close' | 'error'): void => {
      cleanup();
      try {
        if (how === 'close') ctrl.close();
        else ctrl.error(new Error(`${OWNER}: the client did not read for ${slowClientTimeout} ms`));
      } catch {
        // Already closed or errored by the consumer.
      }
    };
    const client: Client = {
      dropped: 0,
      offer(text, bytes) {
        const desired = ctrl.desiredSize;
        if (desired === null) {
          cleanup();
          return false;
        }
        const held = maxBuffered - desired;
        if (held > 0 && held + bytes > maxBuffered) return false;
        return enqueue(encoder.encode(text));
      },
      end: () => finish('close'),
      // Erroring the stream discards its queue at once.
      kick: () => finish('error'),
    };
    if (!connect(client)) {
      return new Response(tooMany, { status: 503, headers: TEXT });
    }
    if (request !== undefined) {
      onAbort = (): void => finish('close');
      if (request.signal.aborted) {
        finish('close');
        return new Response(body, { status: 200, headers: HEADERS });
      }
      request.signal.addEventListener('abort', onAbort, { once: true });
    }
    enqueue(encoder.encode(frames()));
    return new Response(body, { status: 200, headers: HEADERS });
  };

  Object.defineProperty(handler, 'connections', { get: () => clients.size });
  handler.close = (): void => {
    for (const client of [...clients]) client.end();
  };
  return handler;
}

/** One connected stream client. */
interface Client {
  /** Rounds dropped in a row because the client was not reading. */
  dropped: number;
  /** Hands a round of frames to the client; false when it was dropped (no room). */
  offer(text: string, bytes: number): boolean;
  /** Ends the stream (close()). */
  end(): void;
  /** Drops the client that stopped reading (or whose response failed). */
  kick(): void;
}

const KNOWN = [
  'breakers',
  'interval',
  'maxConnections',
  'executionTimeout',
  'now',
  'maxBufferedBytes',
  'slowClientTimeout',
] as const satisfies readonly (keyof HystrixStreamOptions)[];
const SOURCE = 'staunch/hystrix';
const ALLOW = 'GET, HEAD';

/** GET (or no method: a bare `stream.fetch()`), HEAD, or anything else. */
function streamMethod(method: string | undefined): 'GET' | 'HEAD' | 'other' {
  if (method === undefined) return 'GET';
  const upper = String(method).toUpperCase();
  return upper === 'GET' ? 'GET' : upper === 'HEAD' ? 'HEAD' : 'other';
}

/** Validates an execution timeout (ms): a finite number >= 0. */
function checkTimeout(value: unknown): number {
  return checkNumber(OWNER, 'executionTimeout', value, { min: 0 });
}

/** Runs `action` on a user-supplied response; what it throws is reported, never thrown. */
function guarded(action: () => void, what: string): void {
  try {
    action();
  } catch (error) {
    reportError(error, `${SOURCE} ${what}`);
  }
}
