import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { BulkheadRejectedError, CircuitOpenError, TimeoutError } from '../../src/index.js';
import { LruCache, policySelector, toErrorResponse } from '../../src/integrations/shared/http.js';
import { type NodeResponseLike, responseDone, watchClient } from '../../src/integrations/shared/node.js';
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
