import { createHook } from 'node:async_hooks';
import { afterAll, afterEach, expect, vi } from 'vitest';

// Runs in every test file's worker (vitest `setupFiles`). Two leak checks:
//
// 1. Fake timers: every test leaves the clock as it found it and no fake timer pending, so a
//    policy that leaves a timer behind fails the test that caused it.
// 2. Real timers and handles: every timer, immediate, socket, server, child process, ... that
//    the file's tests and hooks create must be gone when the file ends. One left alive fails the
//    file's last afterAll, so the run is red (vitest's `hanging-process` reporter only prints),
//    and the error says where it was created. Unref'd timers count too: they hold their closure.

afterEach(() => {
  if (vi.isFakeTimers()) {
    const pending = vi.getTimerCount();
    vi.useRealTimers();
    expect(pending, 'fake timers still pending at the end of the test').toBe(0);
  }
});

/**
 * Resources that live until closed or cleared (async_hooks types). Others, like an HTTP parser
 * or a request object, are destroyed only when garbage-collected, so they would look leaked.
 */
const TRACKED = new Set([
  'Timeout',
  'Immediate',
  'TCPWRAP',
  'TCPSERVERWRAP',
  'PIPEWRAP',
  'PIPESERVERWRAP',
  'UDPWRAP',
  'PROCESSWRAP',
  'SIGNALWRAP',
  'FSEVENTWRAP',
  'STATWATCHER',
  'MESSAGEPORT',
  'WORKER',
]);
/** Stack frames that say the resource is the test runner's own. */
const RUNNER = /node_modules[\\/](vitest|@vitest|tinypool|tinyspy|birpc)[\\/]/;
const SETUP_FILE = /test[\\/]setup\.ts/;
const RUNTIME_CACHE = /at setUnrefTimeout \(node:|node:internal\/deps\/undici/;

// Captured before any test can fake them.
const realSetImmediate = globalThis.setImmediate;

interface Live {
  readonly type: string;
  readonly stack: string;
}
const live = new Map<number, Live>();
const hook = createHook({
  init(asyncId, type) {
    if (!TRACKED.has(type)) return;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 40;
    const raw = new Error().stack ?? '';
    Error.stackTraceLimit = limit;
    // Node's own caches: the HTTP date cache and undici's shared clock (what `fetch` uses) keep
    // an unref'd timer for a second after use, whoever triggered them.
    if (RUNTIME_CACHE.test(raw)) return;
    const frames = raw
      .split('\n')
      .slice(2) // the message and this hook
      .filter((line) => !/\(node:|at node:/.test(line));
    // Who asked for it: the innermost frame outside Node itself. (Outer frames are always the
    // runner's, since it calls every test.)
    const caller = frames[0] ?? '';
    if (RUNNER.test(caller) || SETUP_FILE.test(caller)) return;
    const shown = frames.length > 0 ? frames : raw.split('\n').slice(2);
    live.set(asyncId, { type, stack: shown.slice(0, 8).join('\n') });
  },
  destroy(asyncId) {
    live.delete(asyncId);
  },
});

// Resources created while the test file is imported (a module-level server) are the file's too:
// enable at once, this file runs before the test file is imported.
// STAUNCH_LEAK_CHECK=0 turns the real-handle check off (e.g. for mutation testing, where the
// async hook's cost per promise adds up).
const enabled = process.env.STAUNCH_LEAK_CHECK !== '0';
if (enabled) hook.enable();

afterAll(async () => {
  if (!enabled) return;
  // Sockets and servers close asynchronously: give them up to 500 ms, polling, only when
  // something is still open, so a clean file pays nothing.
  const deadline = performance.now() + 500;
  while (live.size > 0 && performance.now() < deadline) {
    await new Promise((resolve) => realSetImmediate(resolve));
  }
  hook.disable();
  if (live.size === 0) return;
  const counts = new Map<string, number>();
  for (const { type } of live.values()) counts.set(type, (counts.get(type) ?? 0) + 1);
  const summary = [...counts].map(([type, n]) => `${n} × ${type}`).join(', ');
  const where = [...live.values()].map((r) => `\n--- ${r.type} created at:\n${r.stack}`).join('');
  live.clear();
  throw new Error(
    `this test file left ${summary} alive after its tests ended: clear every timer, close every server and socket${where}`,
  );
});
