import { describe, expect, it } from 'vitest';
import { hasCode, MAX_CAUSE_DEPTH, matchers, matchesAny } from '../../src/core/match.js';
import { Fallback, RetryPolicy, TimeoutError } from '../../src/index.js';
import { collectReports } from '../support/reporter.js';

const coded = (code: string, cause?: unknown) => Object.assign(new Error(code), { code }, { cause });

/** `depth` wrappers without a code around an error with `code`. */
function wrapped(code: string, depth: number): unknown {
  let error: unknown = coded(code);
  for (let i = 0; i < depth; i++) error = new TypeError(`wrapper ${i}`, { cause: error });
  return error;
}

describe('code-string matchers look through the cause chain', () => {
  it("matches a code on the error's cause (Node fetch: TypeError('fetch failed').cause.code)", () => {
    const error = new TypeError('fetch failed', { cause: coded('ECONNRESET') });
    expect(matchesAny(['ECONNRESET'], error)).toBe(true);
    expect(matchesAny(['ETIMEDOUT'], error)).toBe(false);
  });

  it(`follows at most ${MAX_CAUSE_DEPTH} cause links`, () => {
    expect(MAX_CAUSE_DEPTH).toBe(8);
    expect(hasCode(wrapped('ECONNRESET', MAX_CAUSE_DEPTH), 'ECONNRESET')).toBe(true);
    expect(hasCode(wrapped('ECONNRESET', MAX_CAUSE_DEPTH + 1), 'ECONNRESET')).toBe(false);
  });

  it('stops at cycles (self-cause and longer loops) without hanging', () => {
    const self = new Error('self') as Error & { cause?: unknown };
    self.cause = self;
    expect(hasCode(self, 'X')).toBe(false);
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(hasCode(a, 'X')).toBe(false);
    // A code reachable before the loop closes is still found.
    const c = coded('X');
    const d = new Error('d', { cause: c });
    (c as { cause?: unknown }).cause = d;
    expect(hasCode(d, 'X')).toBe(true);
  });

  it('never throws on hostile errors: throwing getters and non-objects in the chain', () => {
    const hostile = {
      get code(): never {
        throw new Error('boom');
      },
    };
    expect(hasCode(hostile, 'X')).toBe(false);
    const viaCause = {
      code: 'A',
      get cause(): never {
        throw new Error('boom');
      },
    };
    expect(hasCode(viaCause, 'A')).toBe(true);
    expect(hasCode(viaCause, 'B')).toBe(false);
    expect(hasCode(new Error('x', { cause: 'ECONNRESET' }), 'ECONNRESET')).toBe(false);
    expect(hasCode(null, 'X')).toBe(false);
    expect(hasCode(undefined, 'X')).toBe(false);
  });

  it('RetryPolicy retryOn: a code on the cause is retried', async () => {
    const retry = new RetryPolicy({ backoff: [0, 0], retryOn: ['ECONNRESET'] });
    let calls = 0;
    await expect(
      retry.execute(() => {
        calls++;
        throw new TypeError('fetch failed', { cause: coded('ECONNRESET') });
      }),
    ).rejects.toThrow('fetch failed');
    expect(calls).toBe(3);
  });
});

describe('class matchers test the error itself only (documented decision)', () => {
  it('does not match an Error class on the cause', () => {
    class Validation extends Error {}
    const wrapper = new TimeoutError(1000, { cause: new Validation('bad') });
    expect(matchesAny([Validation], wrapper)).toBe(false);
    expect(matchesAny([Validation], new Validation('bad'))).toBe(true);
    expect(matchesAny([TimeoutError], wrapper)).toBe(true);
  });
});

describe('a predicate that throws at failure time', () => {
  it('counts as no match, reports its error with the owner and option, and never replaces the error', async () => {
    const reports = collectReports();
    const bug = new Error('matcher bug');
    const original = new Error('original');
    const throwing = (): boolean => {
      throw bug;
    };
    const list = matchers('RetryPolicy', 'failOn', [throwing]) as never;
    expect(matchesAny(list, original)).toBe(false);
    expect(reports).toEqual([{ error: bug, source: 'RetryPolicy failOn matcher' }]);

    // End to end: failOn throwing = not failed-on (retried); retryOn throwing = not retried. The
    // call rejects with the original error either way.
    reports.length = 0;
    let calls = 0;
    const op = () => {
      calls++;
      return Promise.reject(original);
    };
    await expect(new RetryPolicy({ backoff: [0], failOn: throwing }).execute(op)).rejects.toBe(original);
    expect(calls).toBe(2);
    calls = 0;
    await expect(new RetryPolicy({ backoff: [0], retryOn: throwing }).execute(op)).rejects.toBe(original);
    expect(calls).toBe(1);
    expect(reports.map((r) => r.source)).toEqual([
      'RetryPolicy failOn matcher',
      'RetryPolicy failOn matcher',
      'RetryPolicy retryOn matcher',
    ]);
    expect(reports.every((r) => r.error === bug)).toBe(true);

    // Fallback handle: a throwing matcher means "not handled": the original error comes through.
    reports.length = 0;
    const fallback = new Fallback(() => 'fallback', { handle: throwing });
    await expect(fallback.execute(op)).rejects.toBe(original);
    expect(reports).toEqual([{ error: bug, source: 'Fallback handle matcher' }]);
  });

  it('a class passed where a predicate is expected (called without new) is also contained', () => {
    const reports = collectReports();
    class NotAnError {}
    const list = matchers('Fallback', 'exclude', NotAnError as never) as never;
    expect(matchesAny(list, new Error('x'))).toBe(false);
    expect(reports).toHaveLength(1);
    expect(reports[0]?.error).toBeInstanceOf(TypeError);
  });

  it('copies the list given, so later changes to the array do not change the policy', () => {
    const list: string[] = ['A'];
    const validated = matchers('RetryPolicy', 'retryOn', list) as readonly string[];
    list.push('B');
    expect(validated).toEqual(['A']);
  });
});
