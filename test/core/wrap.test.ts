import { describe, expect, it, vi } from 'vitest';
import { pipeline, RetryPolicy, Timeout, TimeoutError } from '../../src/index.js';

// Issue 11 item 28: `wrap()` takes a signal. Decision: `policy.wrap(fn, { signal })` fixes one
// cancellation for every call of the wrapper (a shutdown signal); a signal per call is
// `execute` in the user's own wrapper (the documented pattern, tested last).

const never = () => new Promise<never>(() => {});

describe('policy.wrap(fn, { signal })', () => {
  it('the signal’s abort rejects calls in flight, and every later call, at once with its reason', async () => {
    vi.useFakeTimers();
    const shutdown = new AbortController();
    let calls = 0;
    const slowLookup = (id: string): Promise<string> => {
      calls++;
      return id === 'slow' ? never() : Promise.resolve(`user ${id}`);
    };
    const getUser = new Timeout(5000).wrap(slowLookup, { signal: shutdown.signal });
    await expect(getUser('1')).resolves.toBe('user 1');
    const inFlight = getUser('slow');
    const reason = new Error('shutting down');
    shutdown.abort(reason);
    await expect(inFlight).rejects.toBe(reason);
    await expect(getUser('2')).rejects.toBe(reason);
    expect(calls).toBe(2); // the call after the abort never reached the function
    await vi.advanceTimersByTimeAsync(5000);
  });

  it('the caller’s cancellation is not retried and is not a TimeoutError', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    let attempts = 0;
    const flaky = pipeline(new RetryPolicy({ backoff: [100, 100] }), new Timeout(1000)).wrap(
      async (n: number) => {
        attempts++;
        throw new Error(`fail ${n}`);
      },
      { signal: controller.signal },
    );
    const call = flaky(7);
    const check = expect(call).rejects.toBe('bye');
    await vi.advanceTimersByTimeAsync(50); // sleeping before the first retry
    controller.abort('bye');
    await check;
    await vi.runAllTimersAsync();
    expect(attempts).toBe(1);
  });

  it('the options are fixed when wrapping', async () => {
    const options: { signal?: AbortSignal } = { signal: new AbortController().signal };
    const wrapped = new RetryPolicy().wrap((x: number) => x * 2, options);
    const aborted = new AbortController();
    aborted.abort('late');
    options.signal = aborted.signal;
    await expect(wrapped(21)).resolves.toBe(42);
  });

  it('without options it behaves as before: the arguments pass, the result and errors keep their identity', async () => {
    const value = {};
    const error = new Error('own');
    const policy = new RetryPolicy({ backoff: [] });
    await expect(policy.wrap((a: object) => a)(value)).resolves.toBe(value);
    await expect(policy.wrap(() => Promise.reject(error))()).rejects.toBe(error);
    await expect(policy.wrap((a: number, b: string) => `${a}${b}`, {})(1, 'x')).resolves.toBe('1x');
  });

  it('bad options are a TypeError when wrapping, naming the option', () => {
    const policy = new RetryPolicy();
    const fn = () => 1;
    expect(() => policy.wrap(fn, { signl: new AbortController().signal } as never)).toThrow(
      /wrap\(fn, options\): unknown option "signl" \(did you mean "signal"\?\)/,
    );
    expect(() => policy.wrap(fn, { signal: 'stop' } as never)).toThrow(TypeError);
    expect(() => policy.wrap(fn, { signal: 'stop' } as never)).toThrow(/options\.signal must be an AbortSignal/);
    expect(() => policy.wrap(fn, null as never)).toThrow(TypeError);
    expect(() => policy.wrap(fn, 5 as never)).toThrow(/wrap\(fn, options\): options must be an object/);
  });

  it('a signal per call: the documented pattern, execute in your own wrapper', async () => {
    vi.useFakeTimers();
    const timeout = new Timeout(1000);
    let seen: AbortSignal | undefined;
    const lookup = (id: string, signal: AbortSignal): Promise<string> => {
      seen = signal;
      return id === 'slow' ? never() : Promise.resolve(`user ${id}`);
    };
    const getUser = (id: string, signal?: AbortSignal) => timeout.execute((ctx) => lookup(id, ctx.signal), { signal });
    await expect(getUser('1')).resolves.toBe('user 1');
    const controller = new AbortController();
    const call = getUser('slow', controller.signal);
    controller.abort('navigated away');
    await expect(call).rejects.toBe('navigated away');
    expect(seen?.aborted).toBe(true);
    const timedOut = getUser('slow');
    const check = expect(timedOut).rejects.toBeInstanceOf(TimeoutError);
    await vi.advanceTimersByTimeAsync(1000);
    await check;
    expect(seen?.reason).toBeInstanceOf(TimeoutError);
  });
});
