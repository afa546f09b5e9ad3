/**
 * The demo: a resilient client for a flaky HTTP upstream on 127.0.0.1, narrated as it happens.
 *
 *   Fallback -> Retry -> CircuitBreaker -> Bulkhead -> Timeout -> fetch
 *
 * The upstream goes through phases — healthy, flaky, down (hanging), still down, recovered,
 * a burst of slow requests — and every policy reports what it does: retries and their delays,
 * timeouts, the breaker opening, short-circuits, the half-open trial, recovery, bulkhead
 * rejections and fallbacks. A summary table ends it. Takes about 5 seconds.
 *
 * Run: npm run demo   (or: npx tsx examples/demo.ts)
 */
import {
  Bulkhead,
  BulkheadRejectedError,
  CircuitBreaker,
  CircuitOpenError,
  exponential,
  Fallback,
  pipeline,
  RetryPolicy,
  Timeout,
  TimeoutError,
} from 'staunch';
import { HttpError, type Mode, startFlakyServer } from './support/flaky-server.js';

const SLEEP_WINDOW = 1_000; // ms the breaker stays open before a trial call

// ---------------------------------------------------------------------------------------------
// Narration

const started = performance.now();
function say(who: string, what: string): void {
  const t = `${Math.round(performance.now() - started)}`.padStart(5);
  console.log(`${t} ms  ${who.padEnd(9)} ${what}`);
}
const describe = (error: unknown): string =>
  error instanceof HttpError
    ? error.message
    : error instanceof TimeoutError
      ? 'timeout'
      : error instanceof CircuitOpenError
        ? 'circuit open'
        : error instanceof BulkheadRejectedError
          ? `bulkhead ${error.reason}`
          : String(error);

/** Counts per phase, for the summary. */
interface Tally {
  phase: string;
  calls: number;
  ok: number;
  fallbacks: number;
  retries: number;
  timeouts: number;
  shortCircuits: number;
  rejected: number;
  upstream: number;
  breaker: string;
}
const tallies: Tally[] = [];
let tally: Tally | undefined;

// ---------------------------------------------------------------------------------------------
// The policies

interface Quote {
  readonly price: number | null;
  readonly source: string;
}

const fallback = new Fallback<Quote>((error) => ({ price: null, source: `fallback (${describe(error)})` }));
const retry = new RetryPolicy({
  maxRetries: 2,
  backoff: exponential({ initial: 50, factor: 2 }), // 50, 100 ms
  jitter: 0.2,
  // Fast failures say "not now": retrying them at once only adds load.
  failOn: [CircuitOpenError, BulkheadRejectedError, (e) => e instanceof HttpError && e.status < 500],
});
const breaker = new CircuitBreaker({
  errorThresholdPercentage: 50,
  volumeThreshold: 5,
  rollingWindow: 10_000,
  buckets: 10,
  sleepWindow: SLEEP_WINDOW,
});
const bulkhead = new Bulkhead({ maxConcurrent: 3, maxQueue: 3, queueTimeout: 1_000 });
const timeout = new Timeout(250); // ms per attempt

const policy = pipeline(fallback, retry, breaker, bulkhead, timeout);

retry.on('retry', ({ attempt, delay, outcome }) => {
  if (tally) tally.retries++;
  const why = outcome.kind === 'error' ? describe(outcome.error) : 'bad result';
  say('retry', `attempt ${attempt} failed (${why}); attempt ${attempt + 1} in ${Math.round(delay)} ms`);
});
retry.on('giveUp', ({ attempts, outcome }) => {
  const why = outcome.kind === 'error' ? describe(outcome.error) : 'bad result';
  say('retry', `gave up after ${attempts} attempt(s): ${why}`);
});
timeout.on('timeout', ({ attempt, timeout: ms }) => {
  if (tally) tally.timeouts++;
  say('timeout', `attempt ${attempt} took longer than ${ms} ms: aborted`);
});
breaker.on('stateChange', ({ from, to }) => {
  const note =
    to === 'open'
      ? `calls now fail fast for ${SLEEP_WINDOW} ms`
      : to === 'half-open'
        ? 'sleep window over: this call is the trial'
        : 'trial succeeded: recovered';
  say('breaker', `${from} -> ${to} (${note})`);
});
breaker.on('shortCircuit', ({ error }) => {
  if (tally) tally.shortCircuits++;
  say('breaker', `short-circuit: upstream not called, next trial in ${Math.round(error.retryAfter)} ms`);
});
bulkhead.on('reject', ({ reason, running, queued }) => {
  if (tally) tally.rejected++;
  say('bulkhead', `rejected (${reason}): ${running} running, ${queued} queued`);
});
fallback.on('fallback', ({ error }) => {
  if (tally) tally.fallbacks++;
  say('fallback', `served a placeholder quote instead of failing (${describe(error)})`);
});

// ---------------------------------------------------------------------------------------------
// The story

const upstream = await startFlakyServer('ok');

async function getQuote(id: number): Promise<Quote> {
  if (tally) tally.calls++;
  const quote = await policy.execute(async ({ signal }) => {
    const res = await fetch(`${upstream.url}/quote/${id}`, { signal });
    if (!res.ok) {
      await res.arrayBuffer();
      throw new HttpError(res.status);
    }
    const body = (await res.json()) as { price: number };
    return { price: body.price, source: 'upstream' };
  });
  if (tally && quote.source === 'upstream') tally.ok++;
  return quote;
}

async function phase(name: string, mode: Mode, run: () => Promise<void>): Promise<void> {
  console.log(`\n== ${name} (upstream: ${typeof mode === 'string' ? mode : `slow ${mode.slow} ms`})`);
  upstream.mode = mode;
  const before = upstream.requests;
  tally = {
    phase: name,
    calls: 0,
    ok: 0,
    fallbacks: 0,
    retries: 0,
    timeouts: 0,
    shortCircuits: 0,
    rejected: 0,
    upstream: 0,
    breaker: '',
  };
  await run();
  tally.upstream = upstream.requests - before;
  tally.breaker = breaker.state;
  tallies.push(tally);
}

async function sequential(from: number, count: number): Promise<void> {
  for (let id = from; id < from + count; id++) {
    const quote = await getQuote(id);
    say('client', `quote ${id}: ${quote.price ?? '-'} from ${quote.source}`);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

try {
  await phase('1. healthy', 'ok', () => sequential(1, 3));
  await phase('2. flaky', 'flaky', () => sequential(4, 4));
  await phase('3. outage', 'hang', () => sequential(8, 4));
  await phase('4. still down', 'hang', async () => {
    say('client', `waiting ${SLEEP_WINDOW} ms for the sleep window...`);
    await sleep(SLEEP_WINDOW + 20);
    await sequential(12, 2);
  });
  await phase('5. recovered', 'ok', async () => {
    say('client', `waiting ${SLEEP_WINDOW} ms for the sleep window...`);
    await sleep(SLEEP_WINDOW + 20);
    await sequential(14, 3);
  });
  await phase('6. burst', { slow: 80 }, async () => {
    say('client', '8 requests at once; the bulkhead runs 3 and queues 3');
    const quotes = await Promise.all([17, 18, 19, 20, 21, 22, 23, 24].map((id) => getQuote(id)));
    say('client', `burst answered: ${quotes.map((q) => (q.source === 'upstream' ? 'ok' : 'fallback')).join(', ')}`);
  });
} finally {
  await upstream.close();
}

// ---------------------------------------------------------------------------------------------
// Summary

const columns: [string, (t: Tally) => string | number][] = [
  ['phase', (t) => t.phase],
  ['calls', (t) => t.calls],
  ['ok', (t) => t.ok],
  ['fallback', (t) => t.fallbacks],
  ['retries', (t) => t.retries],
  ['timeouts', (t) => t.timeouts],
  ['short-circuit', (t) => t.shortCircuits],
  ['rejected', (t) => t.rejected],
  ['upstream hits', (t) => t.upstream],
  ['breaker after', (t) => t.breaker],
];
const rows = [columns.map(([title]) => title), ...tallies.map((t) => columns.map(([, get]) => String(get(t))))];
const widths = columns.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
const line = (cells: string[]) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
console.log('\n== summary');
console.log(line(rows[0] ?? []));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of rows.slice(1)) console.log(line(row));
const failed = tallies.reduce((n, t) => n + t.calls - t.ok - t.fallbacks, 0);
console.log(
  `\n${tallies.reduce((n, t) => n + t.calls, 0)} calls, ${failed} surfaced an error to the caller; took ${Math.round(performance.now() - started)} ms`,
);
