/**
 * The demo: a resilient client for a flaky HTTP upstream on 127.0.0.1, narrated as it happens.
 *
 *   Fallback -> Retry -> CircuitBreaker -> Bulkhead -> Timeout -> fetch
 *
 * The upstream goes through phases — healthy, flaky, down (hanging), still down, recovered,
 * a burst of slow requests — and every policy reports what it does: retries and their delays,
 * timeouts, the breaker opening, short-circuits, the half-open trial, recovery, bulkhead
 * rejections and fallbacks. A summary table ends it.
 *
 * The requests are real, the time is the story's: the policies read an injected clock
 * (examples/support/story-clock.ts) that moves only when the story says so. A wait that shows
 * nothing real is skipped rather than slept through — the sleep window of the open breaker, each
 * retry's backoff, and the deadline of a request the upstream has visibly stopped answering (the
 * server reports it). Nothing else moves the clock, so a healthy request that is slow because the
 * machine is busy never runs into its deadline: the same story, with the same times, is told on
 * any machine, however loaded. Takes well under a second.
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
import { StoryClock } from './support/story-clock.js';

const SLEEP_WINDOW = 1_000; // ms the breaker stays open before a trial call
const TIMEOUT = 250; // ms per attempt

/** The story's time (see the top of this file). */
const clock = new StoryClock();
/** Seeded random numbers for the retry's jitter, so the delays are the same on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// Narration

const started = performance.now();
function say(who: string, what: string): void {
  const t = `${Math.round(clock.now())}`.padStart(5);
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
  random: seeded(11),
  clock: clock.skipping, // a backoff shows nothing: skipped at once
  // Fast failures say "not now": retrying them at once only adds load.
  failOn: [CircuitOpenError, BulkheadRejectedError, (e) => e instanceof HttpError && e.status < 500],
});
const breaker = new CircuitBreaker({
  errorThresholdPercentage: 50,
  volumeThreshold: 5,
  rollingWindow: 10_000,
  buckets: 10,
  sleepWindow: SLEEP_WINDOW,
  clock,
});
const bulkhead = new Bulkhead({ maxConcurrent: 3, maxQueue: 3, queueTimeout: 1_000, clock });
const timeout = new Timeout({ timeout: TIMEOUT, clock });

const policy = pipeline(fallback, retry, breaker, bulkhead, timeout);

retry.on('retry', ({ attempt, delay, outcome }) => {
  if (tally) tally.retries++;
  const why = outcome.kind === 'error' ? describe(outcome.error) : 'bad result';
  say('retry', `attempt ${attempt} failed (${why}); attempt ${attempt + 1} in ${Math.ceil(delay)} ms`);
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
// The upstream has a request it will never answer: let the attempt's deadline pass at once.
upstream.onHang = () => setImmediate(() => clock.advance(TIMEOUT));

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

/** Lets the breaker's sleep window pass (story time: nothing happens meanwhile). */
function waitForSleepWindow(): void {
  say('client', `${SLEEP_WINDOW} ms pass: the breaker's sleep window is over`);
  clock.advance(SLEEP_WINDOW);
}

console.log(
  'Times are story time (ms): waits that show nothing (the sleep window, backoffs, the deadline of a\n' +
    'request the upstream never answers) are skipped, so the story is the same on any machine.',
);

try {
  await phase('1. healthy', 'ok', () => sequential(1, 3));
  await phase('2. flaky', 'flaky', () => sequential(4, 4));
  await phase('3. outage', 'hang', () => sequential(8, 4));
  await phase('4. still down', 'hang', async () => {
    waitForSleepWindow();
    await sequential(12, 2);
  });
  await phase('5. recovered', 'ok', async () => {
    waitForSleepWindow();
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
  `\n${tallies.reduce((n, t) => n + t.calls, 0)} calls, ${failed} surfaced an error to the caller; ` +
    `story time ${Math.round(clock.now())} ms (real time ${Math.round(performance.now() - started)} ms)`,
);
