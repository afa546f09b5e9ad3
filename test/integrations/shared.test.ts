import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Bulkhead,
  BulkheadRejectedError,
  CircuitBreaker,
  CircuitOpenError,
  type ErrorReporter,
  type Policy,
  pipeline,
  setErrorReporter,
  TimeoutError,
} from '../../src/index.js';
import {
  checkMiddlewareOptions,
  defaultBody,
  LruCache,
  MIDDLEWARE_OPTIONS,
  PolicyLimitError,
  policySelector,
  serializeBody,
  toErrorResponse,
} from '../../src/integrations/shared/http.js';
import { type NodeResponseLike, responseDone, watchClient } from '../../src/integrations/shared/node.js';
import { deferred } from './helpers.js';
import { Recorder } from './server-suite.js';

class FakeResponse extends EventEmitter implements NodeResponseLike {
  writableFinished = false;
  headersSent = false;
  statusCode = 200;
  setHeader(): void {}
  end(): void {}
}

describe('error mapping', () => {
  it('maps the three errors with the documented defaults', () => {
    const shed = toErrorResponse(new BulkheadRejectedError('full', 'queue-full', 1, 0));
    expect(shed).toMatchObject({ status: 503, headers: { 'retry-after': '1' } });
    expect(
      toErrorResponse(new BulkheadRejectedError('full', 'queue-full', 1, 0), { bulkheadRetryAfter: false }),
    ).toMatchObject({
      status: 503,
      headers: {},
    });
    expect(toErrorResponse(new CircuitOpenError('open', 0, 1001))).toMatchObject({
      status: 503,
      headers: { 'retry-after': '2' },
    });
    expect(toErrorResponse(new CircuitOpenError('open', 0, 0))?.headers).toEqual({ 'retry-after': '0' });
    expect(toErrorResponse(new CircuitOpenError('open', Infinity, Infinity))?.headers).toEqual({});
    expect(toErrorResponse(new TimeoutError(10))).toMatchObject({
      status: 504,
      body: { error: { code: 'STAUNCH_TIMEOUT', message: 'The request took too long to complete' } },
    });
    expect(toErrorResponse(new Error('other'))).toBeUndefined();
  });

  it('lets mapError override or decline, and recognises errors across copies by brand', () => {
    const mapError = (error: unknown, fallback: unknown) =>
      error instanceof TimeoutError ? undefined : ((fallback as never) ?? { status: 500, headers: {}, body: 'x' });
    expect(toErrorResponse(new TimeoutError(1), { mapError })).toBeUndefined();
    expect(toErrorResponse(new Error('e'), { mapError })).toMatchObject({ status: 500 });
    // An error from another copy of the package: same brand and code, different class.
    const foreign = Object.defineProperty(
      Object.assign(new Error('t'), { code: 'STAUNCH_TIMEOUT', timeout: 5 }),
      Symbol.for('staunch.error'),
      {
        value: true,
      },
    );
    expect(toErrorResponse(foreign)?.status).toBe(504);
  });
});

describe('LruCache and policy selection', () => {
  it('keeps at most maxSize entries, dropping the least recently used', () => {
    const cache = new LruCache<number>(2);
    let made = 0;
    const get = (k: string) => cache.getOrCreate(k, () => ++made);
    expect(get('a')).toBe(1);
    expect(get('b')).toBe(2);
    expect(get('a')).toBe(1); // refreshes a
    expect(get('c')).toBe(3); // drops b
    expect(cache.size).toBe(2);
    expect(get('a')).toBe(1);
    expect(get('b')).toBe(4); // made again
  });

  it('builds one policy per key through the factory, bounded by maxPolicies', () => {
    const made: string[] = [];
    const select = policySelector<string>('test', {
      policy: (key) => {
        made.push(key);
        return new Recorder();
      },
      key: (request) => request,
      maxPolicies: 2,
    });
    const a = select('a');
    expect(select('a')).toBe(a);
    select('b');
    select('c');
    expect(select('a')).not.toBe(a);
    expect(made).toEqual(['a', 'b', 'c', 'a']);
  });
});

describe('Node response helpers', () => {
  it('watchClient aborts on close before finish, and removes its listener', () => {
    const res = new FakeResponse();
    const watch = watchClient(res);
    expect(res.listenerCount('close')).toBe(1);
    res.emit('close');
    expect(watch.signal.aborted).toBe(true);
    expect((watch.signal.reason as Error).name).toBe('AbortError');
    expect(res.listenerCount('close')).toBe(0);

    const done = new FakeResponse();
    const quiet = watchClient(done);
    done.writableFinished = true;
    done.emit('close');
    expect(quiet.signal.aborted).toBe(false);
    const disposed = new FakeResponse();
    watchClient(disposed).dispose();
    expect(disposed.listenerCount('close')).toBe(0);
  });

  it('responseDone resolves on finish or close and removes both listeners', async () => {
    const res = new FakeResponse();
    const p = responseDone(res);
    expect(res.listenerCount('finish') + res.listenerCount('close')).toBe(2);
    res.writableFinished = true;
    res.emit('finish');
    expect(await p).toBe(true);
    expect(res.listenerCount('finish') + res.listenerCount('close')).toBe(0);
    const cut = new FakeResponse();
    const q = responseDone(cut);
    cut.emit('close');
    expect(await q).toBe(false);
  });
});

describe('per-key policies: eviction only at rest (issue 11 item 11)', () => {
  const keyed = (max: number, make: (key: string) => Policy<unknown>) =>
    policySelector<string>('test', { policy: make, key: (request) => request, maxPolicies: max });

  it('never evicts a policy with a call in flight; evicts it once the call settled', async () => {
    const made: string[] = [];
    const select = keyed(1, (key) => {
      made.push(key);
      return new Recorder();
    });
    const gate = deferred();
    const running = select('a').execute(() => gate.promise);
    // Full, and 'a' is busy: 'b' is shed, not given a policy (and the factory is not called).
    await expect(select('b').execute(() => 'never')).rejects.toBeInstanceOf(PolicyLimitError);
    expect(made).toEqual(['a']);
    gate.resolve();
    await running;
    await expect(select('b').execute(() => 'b')).resolves.toBe('b');
    expect(made).toEqual(['a', 'b']);
  });

  it('never evicts a bulkhead with calls running, even after the caller gave up on them', async () => {
    const bulkheads = new Map<string, Bulkhead>();
    const select = keyed(1, (key) => {
      const bulkhead = new Bulkhead({ maxConcurrent: 1 });
      bulkheads.set(key, bulkhead);
      return pipeline(new Recorder(), bulkhead);
    });
    const caller = new AbortController();
    const gate = deferred();
    const call = select('a').execute(() => gate.promise, { signal: caller.signal });
    caller.abort(new Error('client left'));
    await expect(call).rejects.toThrow('client left');
    // The call settled for its caller, but the function still holds the bulkhead's slot.
    expect(bulkheads.get('a')?.running).toBe(1);
    await expect(select('b').execute(() => 'never')).rejects.toBeInstanceOf(PolicyLimitError);
    await expect(select('a').execute(() => 'second')).rejects.toBeInstanceOf(BulkheadRejectedError);
    gate.resolve();
    await expect.poll(() => bulkheads.get('a')?.running).toBe(0);
    await expect(select('b').execute(() => 'b')).resolves.toBe('b');
  });

  it('keeps breakers that are open, half-open, forced, or closed with failures in the window', async () => {
    const breakers = new Map<string, CircuitBreaker>();
    const select = keyed(1, (key) => {
      const breaker = new CircuitBreaker({ volumeThreshold: 5, sleepWindow: 60_000 });
      breakers.set(key, breaker);
      return pipeline(pipeline(breaker));
    });
    const fail = () => Promise.reject(new Error('down'));
    await select('a')
      .execute(fail)
      .catch(() => {});
    expect(breakers.get('a')?.state).toBe('closed');
    // Closed, but one failure counts toward opening: kept.
    await expect(select('b').execute(() => 'x')).rejects.toBeInstanceOf(PolicyLimitError);
    breakers.get('a')?.reset();
    await expect(select('b').execute(() => 'b')).resolves.toBe('b');
    for (const force of ['isolate', 'forceClose'] as const) {
      breakers.get('b')?.[force]();
      await expect(select(`after-${force}`).execute(() => 'x')).rejects.toBeInstanceOf(PolicyLimitError);
      breakers.get('b')?.reset();
    }
    expect([...breakers.keys()]).toEqual(['a', 'b']);
  });

  it('stays within maxPolicies under heavy churn, and rests again as calls settle', async () => {
    let made = 0;
    const select = keyed(8, () => {
      made++;
      return pipeline(new CircuitBreaker(), new Bulkhead({ maxConcurrent: 1 }));
    });
    const gates = Array.from({ length: 8 }, () => deferred());
    const held = gates.map((gate, i) => select(`held-${i}`).execute(() => gate.promise));
    let shed = 0;
    for (let i = 0; i < 10_000; i++) {
      await select(`k-${i}`)
        .execute(() => i)
        .catch((error: unknown) => {
          expect(error).toBeInstanceOf(PolicyLimitError);
          expect((error as PolicyLimitError).maxPolicies).toBe(8);
          shed++;
        });
    }
    expect(shed).toBe(10_000);
    expect(made).toBe(8);
    for (const gate of gates) gate.resolve();
    await Promise.all(held);
    for (let i = 0; i < 1_000; i++) await expect(select(`k-${i}`).execute(() => i)).resolves.toBe(i);
    expect(made).toBe(1_008);
  });

  it('LruCache: canEvict decides; tryGetOrCreate gives undefined and getOrCreate throws when nothing may go', () => {
    const pinned = new Set(['a']);
    const cache = new LruCache<string>(2, (_value, key) => !pinned.has(key));
    expect(cache.getOrCreate('a', (k) => k.toUpperCase())).toBe('A');
    expect(cache.getOrCreate('b', (k) => k.toUpperCase())).toBe('B');
    // 'a' is the least recent but pinned: 'b' goes.
    expect(cache.getOrCreate('c', (k) => k.toUpperCase())).toBe('C');
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe('A');
    pinned.add('c');
    let called = false;
    expect(
      cache.tryGetOrCreate('d', () => {
        called = true;
        return 'D';
      }),
    ).toBeUndefined();
    expect(called).toBe(false);
    expect(() => cache.getOrCreate('d', () => 'D')).toThrow(RangeError);
    expect(cache.size).toBe(2);
    // A canEvict that throws keeps the entry.
    const throwing = new LruCache<number>(1, () => {
      throw new Error('broken');
    });
    throwing.getOrCreate('x', () => 1);
    expect(throwing.tryGetOrCreate('y', () => 2)).toBeUndefined();
    expect(() => new LruCache(0)).toThrow(RangeError);
    expect(() => new LruCache(2, 'no' as never)).toThrow(TypeError);
  });
});

describe('error mapping: callbacks that fail (issue 11 item 6) and bodies that tell nothing (item 19)', () => {
  let reported: Array<{ error: unknown; source: string }>;
  let previous: ErrorReporter;
  beforeEach(() => {
    reported = [];
    previous = setErrorReporter((error, source) => reported.push({ error, source }));
  });
  afterEach(() => {
    setErrorReporter(previous);
  });

  it('a throwing mapError gives the default mapping and is reported under the middleware name', () => {
    const failure = new Error('mapError broke');
    const options = {
      mapError: () => {
        throw failure;
      },
    };
    checkMiddlewareOptions('staunch/test', { policy: new Recorder(), ...options }, MIDDLEWARE_OPTIONS);
    expect(toErrorResponse(new TimeoutError(10), options)?.status).toBe(504);
    expect(reported).toEqual([{ error: failure, source: 'toErrorResponse mapError' }]);
    const checked = { policy: new Recorder(), ...options };
    checkMiddlewareOptions('staunch/test', checked, MIDDLEWARE_OPTIONS);
    expect(toErrorResponse(new TimeoutError(10), checked)?.status).toBe(504);
    // Not a staunch error: the default is to leave it to the framework.
    expect(toErrorResponse(new Error('other'), checked)).toBeUndefined();
    expect(reported.slice(1).map((r) => r.source)).toEqual(['staunch/test mapError', 'staunch/test mapError']);
  });

  it('a throwing or unserialisable body gives the default body and is reported', () => {
    const body = () => {
      throw new Error('body broke');
    };
    expect(toErrorResponse(new CircuitOpenError('open', 0, 0), { body })).toEqual({
      status: 503,
      headers: { 'retry-after': '0' },
      body: { error: { code: 'STAUNCH_CIRCUIT_OPEN', message: 'Service temporarily unavailable; try again later' } },
    });
    expect(toErrorResponse(new TimeoutError(1), { body: () => ({ n: 1n }) })?.body).toEqual({
      error: { code: 'STAUNCH_TIMEOUT', message: 'The request took too long to complete' },
    });
    expect(reported.map((r) => r.source)).toEqual(['toErrorResponse body', 'toErrorResponse body']);
  });

  it('a mapError response is checked and copied; numbers are accepted as header values', () => {
    const mapped = toErrorResponse(new TimeoutError(1), {
      mapError: () => ({ status: 503, headers: { 'retry-after': 3 as never }, body: undefined }),
    });
    expect(mapped).toEqual({ status: 503, headers: { 'retry-after': '3' }, body: undefined });
    expect(serializeBody(undefined)).toEqual({ text: 'null', type: 'application/json; charset=utf-8' });
    expect(serializeBody(() => 1)).toEqual({ text: 'null', type: 'application/json; charset=utf-8' });
    for (const bad of [
      null,
      5,
      { status: 199, headers: {} },
      { status: 600, headers: {} },
      { status: 503, headers: 'x' },
    ]) {
      expect(toErrorResponse(new TimeoutError(1), { mapError: () => bad as never })?.status).toBe(504);
    }
    expect(reported).toHaveLength(5);
    expect(reported.every((r) => r.error instanceof TypeError)).toBe(true);
  });

  it('default bodies carry the code and a generic message, never names, limits or timeouts', () => {
    const breaker = new CircuitOpenError('Circuit "payments-db.internal:5432" is open', 0, 1000);
    const shed = new BulkheadRejectedError('Bulkhead full: 3 of 3 running, queue 0 of 0', 'queue-full', 3, 0);
    const late = new TimeoutError(2500);
    const bodies = [
      toErrorResponse(breaker)?.body,
      toErrorResponse(shed)?.body,
      toErrorResponse(shed, { bulkheadStatus: 429 })?.body,
      toErrorResponse(late)?.body,
      toErrorResponse(new PolicyLimitError('all 100 per-key policies are in use', 100))?.body,
    ];
    expect(bodies).toEqual([
      { error: { code: 'STAUNCH_CIRCUIT_OPEN', message: 'Service temporarily unavailable; try again later' } },
      { error: { code: 'STAUNCH_BULKHEAD_REJECTED', message: 'Service temporarily unavailable; try again later' } },
      { error: { code: 'STAUNCH_BULKHEAD_REJECTED', message: 'Too many requests; try again later' } },
      { error: { code: 'STAUNCH_TIMEOUT', message: 'The request took too long to complete' } },
      { error: { code: 'STAUNCH_POLICY_LIMIT', message: 'Service temporarily unavailable; try again later' } },
    ]);
    expect(JSON.stringify(bodies)).not.toMatch(/\d|payments|internal/);
    // The detail is still on the error for the server's own logs.
    expect(breaker.message).toContain('payments-db.internal:5432');
    expect(defaultBody(late)).toEqual(bodies[3]);
    expect(defaultBody(new Error('x'), 418)).toEqual({
      error: { code: 'Error', message: 'The request could not be completed' },
    });
  });
});
