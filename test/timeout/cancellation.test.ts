import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { Bulkhead, type Clock, type ExecutionContext, pipeline, Timeout, TimeoutError } from '../../src/index.js';

// Issue 11 item 14: a call cancelled from above (the caller's abort, an enclosing Timeout's
// deadline) leaves the deadline list at once, and a Timeout with nothing pending no longer holds the
// process open.

const never = () => new Promise<never>(() => {});

/** A clock whose timers are recorded (and fired by hand): what the Timeout does with its timer. */
function recordingClock() {
  const log: string[] = [];
  const timers: Array<() => void> = [];
  let now = 0;
  const clock: Clock = {
    now: () => now,
    setTimeout(callback) {
      timers.push(callback);
      log.push('set');
      return { ref: () => log.push('ref'), unref: () => log.push('unref') };
    },
    clearTimeout: () => log.push('clear'),
  };
  return {
    clock,
    log,
    advance(ms: number) {
      now += ms;
    },
    fireAll() {
      for (const fire of timers.splice(0)) fire();
    },
  };
}

describe('Timeout: a call cancelled from above leaves the deadlines at once (item 14)', () => {
  it('the caller’s abort: the call leaves the list and the idle timer is unref’d right away', async () => {
    const { clock, log } = recordingClock();
    const timeout = new Timeout({ timeout: 5000, clock });
    const controller = new AbortController();
    let signal: AbortSignal | undefined;
    const call = timeout.execute(
      (ctx) => {
        signal = ctx.signal;
        return never();
      },
      { signal: controller.signal },
    );
    expect(timeout.pending).toBe(1);
    expect(log).toEqual(['set']); // armed, and keeping the process alive
    const reason = new Error('caller gone');
    controller.abort(reason);
    // Synchronously: nothing pending, and the timer no longer holds the process.
    expect(timeout.pending).toBe(0);
    expect(log).toEqual(['set', 'unref']);
    await expect(call).rejects.toBe(reason);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(reason);
  });

  it('the same with a signal the function reads only after the abort', async () => {
    const { clock, log } = recordingClock();
    const timeout = new Timeout({ timeout: 5000, clock });
    const controller = new AbortController();
    let ctx: ExecutionContext | undefined;
    const call = timeout.execute(
      (c) => {
        ctx = c;
        return never();
      },
      { signal: controller.signal },
    );
    controller.abort('bye');
    expect(timeout.pending).toBe(0);
    expect(log).toEqual(['set', 'unref']);
    expect(ctx?.signal.aborted).toBe(true);
    expect(ctx?.signal.reason).toBe('bye');
    await expect(call).rejects.toBe('bye');
  });

  it('a cooperative Timeout also leaves the list (the call waits for the function as usual)', async () => {
    const { clock, log } = recordingClock();
    const timeout = new Timeout({ timeout: 5000, cooperative: true, clock });
    const controller = new AbortController();
    const call = timeout.execute(
      (ctx) =>
        new Promise((_, reject) => {
          ctx.signal.addEventListener('abort', () => reject(new Error('stopped')));
        }),
      { signal: controller.signal },
    );
    controller.abort('bye');
    expect(timeout.pending).toBe(0);
    expect(log).toEqual(['set', 'unref']);
    await expect(call).rejects.toBe('bye');
  });

  it('an enclosing Timeout’s deadline ends the inner call at once, with the outer TimeoutError', async () => {
    vi.useFakeTimers();
    const inner = recordingClock();
    const innerTimeout = new Timeout({ timeout: 5000, clock: inner.clock });
    const outer = new Timeout(100);
    let signal: AbortSignal | undefined;
    const call = pipeline(outer, innerTimeout).execute((ctx) => {
      signal = ctx.signal;
      return never();
    });
    const check = expect(call).rejects.toBeInstanceOf(TimeoutError);
    expect(innerTimeout.pending).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    const error = await call.catch((e: unknown) => e);
    await check;
    expect((error as TimeoutError).timeout).toBe(100);
    expect(innerTimeout.pending).toBe(0);
    expect(inner.log).toEqual(['set', 'unref']);
    expect(signal?.reason).toBe(error);
  });

  it('a Bulkhead outside gets its slot back at the caller’s abort, as it would at the deadline', async () => {
    const { clock } = recordingClock();
    const bulkhead = new Bulkhead({ maxConcurrent: 1 });
    const controller = new AbortController();
    // The function ignores its signal: only the Timeout giving up frees the slot.
    const call = pipeline(bulkhead, new Timeout({ timeout: 5000, clock })).execute(never, {
      signal: controller.signal,
    });
    expect(bulkhead.running).toBe(1);
    controller.abort('bye');
    await expect(call).rejects.toBe('bye');
    await Promise.resolve();
    expect(bulkhead.running).toBe(0);
  });

  it('nested Timeouts under the caller’s signal both leave their lists at its abort', async () => {
    const { clock, log } = recordingClock();
    const inner = new Timeout({ timeout: 5000, clock });
    const outer = new Timeout({ timeout: 6000, clock });
    const controller = new AbortController();
    const call = pipeline(outer, inner).execute(never, { signal: controller.signal });
    expect([outer.pending, inner.pending]).toEqual([1, 1]);
    controller.abort('bye');
    expect([outer.pending, inner.pending]).toEqual([0, 0]);
    expect(log).toEqual(['set', 'set', 'unref', 'unref']);
    await expect(call).rejects.toBe('bye');
  });

  it('a child process that aborts its only call under Timeout(5000) exits by itself at once', {
    timeout: 60_000,
  }, async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/timeout-abort-exit.ts'], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // A safety net only: the assertion below is on the time the child itself measured.
    const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(kill);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('rejected with: Error: caller gone');
    const exitAfter = Number(/exit (\d+) ms after the abort/.exec(stdout)?.[1]);
    // Without the fix it exits when the 5 s deadline would have passed (~4980 ms after the abort);
    // with it, as soon as the event loop is empty. 4 s is a margin, not a race.
    expect(exitAfter).toBeLessThan(4000);
  });
});
