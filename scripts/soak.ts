/**
 * Soak: a long run of calls through the full pipeline (Fallback → Retry → CircuitBreaker →
 * Bulkhead → Timeout) with mixed outcomes — successes, sync throws, rejections, hangs that only
 * the timeout ends, caller aborts — checking that nothing is lost, leaked or stuck:
 *
 * - every call is answered exactly once;
 * - the heap after GC comes back to within `--heap-mb` (default 5) MB of where it was after warm-up;
 * - a long-lived caller signal shared by many calls holds no listener at the end (its
 *   addEventListener/removeEventListener are wrapped and counted);
 * - the bulkhead, breaker and timeout are idle at the end;
 * - the process exits by itself (nothing keeps the event loop alive): run it as a child process.
 *
 * Usage: node --expose-gc --import tsx scripts/soak.ts [--calls 1000000] [--concurrency 200] [--heap-mb 5]
 *        [--inject-leak]   (self-test: leaks memory and listeners on purpose, so the checks must fail)
 * Prints one JSON line; exits 0 when every check passed, 1 otherwise.
 */
import { CircuitBreaker } from '../src/breaker/index.js';
import { Bulkhead } from '../src/bulkhead/index.js';
import { type ExecutionContext, Fallback, pipeline, RetryPolicy, Timeout } from '../src/index.js';
import { trackListeners } from '../test/support/listeners.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`--${name} must be a positive number`);
  return value;
}

const CALLS = arg('calls', 1_000_000);
const CONCURRENCY = arg('concurrency', 200);
const HEAP_MB = arg('heap-mb', 5);
const WARMUP = Math.min(20_000, Math.floor(CALLS / 10));
const INJECT_LEAK = process.argv.includes('--inject-leak');
const leaked: unknown[] = [];

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('soak: run with node --expose-gc');
  process.exit(2);
}

/** Heap in use after full GCs (a few rounds, so finalisers and weak refs settle). */
async function settledHeap(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    (gc as () => void)();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

// A cheap seeded PRNG (mulberry32), so a run is reproducible.
let seed = 0x5eed;
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

class Boom extends Error {}

const timeout = new Timeout(20);
const bulkhead = new Bulkhead({ maxConcurrent: 100, maxQueue: 50 });
const breaker = new CircuitBreaker({ volumeThreshold: 50, sleepWindow: 50, rollingWindow: 1000, buckets: 10 });
const retry = new RetryPolicy({ maxRetries: 1, backoff: [0] });
const policy = pipeline(new Fallback(() => 'fallback'), retry, breaker, bulkhead, timeout);

/** The protected function: mostly succeeds, sometimes throws, rejects, or hangs until aborted. */
function work({ signal }: ExecutionContext): string | Promise<string> {
  const r = random();
  if (r < 0.6) return 'sync value';
  if (r < 0.8) return Promise.resolve('async value');
  if (r < 0.88) throw new Boom('sync throw');
  if (r < 0.97) return Promise.reject(new Boom('rejection'));
  if (r < 0.985) return new Promise((resolve) => setTimeout(resolve, 1, 'late value'));
  // Hangs until its signal aborts (the timeout's or the caller's), and cleans up after itself.
  return new Promise((_, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

const shared = new AbortController();
const sharedListeners = trackListeners(shared.signal);
// One listener per in-flight call on the shared signal is expected; don't warn about it.
// (Node's EventTarget warns past 10; the limit is per signal.)
const { setMaxListeners } = await import('node:events');
setMaxListeners(0, shared.signal);

const outcomes = { value: 0, fallback: 0, aborted: 0, other: 0 };
let answered = 0;
let doubleAnswered = 0;
let issued = 0;

async function one(): Promise<void> {
  const r = random();
  let signal: AbortSignal | undefined;
  let controller: AbortController | undefined;
  if (r < 0.5) signal = shared.signal;
  else if (r < 0.6) {
    controller = new AbortController();
    signal = controller.signal;
    const c = controller;
    if (r < 0.55) queueMicrotask(() => c.abort(new Error('caller gave up')));
    else setTimeout(() => c.abort(new Error('caller gave up later')), 2);
  }
  let settled = 0;
  try {
    const value = await policy.execute(work, signal === undefined ? undefined : { signal });
    settled++;
    if (value === 'fallback') outcomes.fallback++;
    else if (typeof value === 'string' && value.endsWith('value')) outcomes.value++;
    else outcomes.other++;
  } catch (error) {
    settled++;
    if (controller !== undefined && error === controller.signal.reason) outcomes.aborted++;
    else outcomes.other++;
  }
  answered++;
  if (settled !== 1) doubleAnswered++;
  if (INJECT_LEAK && answered > WARMUP) {
    leaked.push(new Array(64).fill(answered));
    if (answered % 1000 === 0) shared.signal.addEventListener('abort', () => {});
  }
}

async function worker(limit: number): Promise<void> {
  while (issued < limit) {
    issued++;
    await one();
  }
}

async function run(limit: number): Promise<void> {
  await Promise.all(Array.from({ length: CONCURRENCY }, () => worker(limit)));
}

const started = performance.now();
await run(WARMUP);
// Let the caller aborts still scheduled fire, and the Timeout's idle timer go off.
await new Promise((resolve) => setTimeout(resolve, 50));
const heapStart = await settledHeap();
await run(CALLS);
await new Promise((resolve) => setTimeout(resolve, 50));
const heapEnd = await settledHeap();
const elapsed = performance.now() - started;

const problems: string[] = [];
if (answered !== issued) problems.push(`${issued} calls issued, ${answered} answered`);
if (doubleAnswered !== 0) problems.push(`${doubleAnswered} calls answered more than once`);
if (outcomes.other !== 0) problems.push(`${outcomes.other} calls got an unexplained answer`);
const heapDeltaMb = (heapEnd - heapStart) / 1024 / 1024;
if (heapDeltaMb > HEAP_MB) problems.push(`heap grew by ${heapDeltaMb.toFixed(2)} MB (limit ${HEAP_MB})`);
if (sharedListeners.active() !== 0) problems.push(`${sharedListeners.active()} listeners left on the shared signal`);
if (bulkhead.running !== 0 || bulkhead.queued !== 0) {
  problems.push(`bulkhead not idle: ${bulkhead.running} running, ${bulkhead.queued} queued`);
}
if (breaker.metrics().concurrent !== 0) problems.push(`breaker not idle: ${breaker.metrics().concurrent}`);
if (timeout.pending !== 0) problems.push(`timeout not idle: ${timeout.pending} pending`);

const report = {
  ok: problems.length === 0,
  problems,
  calls: issued,
  seconds: Number((elapsed / 1000).toFixed(1)),
  outcomes,
  heapStartMb: Number((heapStart / 1024 / 1024).toFixed(2)),
  heapEndMb: Number((heapEnd / 1024 / 1024).toFixed(2)),
  heapDeltaMb: Number(heapDeltaMb.toFixed(2)),
  sharedSignal: { active: sharedListeners.active(), peak: sharedListeners.peak(), added: sharedListeners.added() },
  breaker: breaker.metrics().state,
};
console.log(JSON.stringify(report));
// No process.exit(): the process must end by itself, proving nothing keeps the loop alive.
if (!report.ok) process.exitCode = 1;
