/**
 * One classification vocabulary (issue 12): `handle`, `exclude` and `handleResult` mean the same in
 * every policy. The same table runs against RetryPolicy, CircuitBreaker and Fallback; each policy
 * says whether it "acted" on an outcome (retried it, counted it as a failure, replaced it).
 */
import { describe, expect, it } from 'vitest';
import { acts, classifier } from '../../src/core/classify.js';
import {
  CircuitBreaker,
  type ClassifyOptions,
  consecutiveFailures,
  Fallback,
  RetryPolicy,
  TimeoutError,
} from '../../src/index.js';
import { collectReports } from '../support/reporter.js';

class ValidationError extends Error {}
const coded = (code: string, cause?: unknown) => Object.assign(new Error(code), { code }, { cause });
/** Node's fetch: `TypeError('fetch failed')` with the system error as `cause`. */
const fetchFailed = (code: string) => new TypeError('fetch failed', { cause: new Error('x', { cause: coded(code) }) });

type Outcome = { readonly error: unknown } | { readonly result: unknown };
interface Subject {
  readonly name: string;
  /** Builds the policy with `options` (names as given, aliases included). */
  readonly make: (options: Record<string, unknown>) => unknown;
  /** Whether a policy built with `options` acts on `outcome` of its first call. */
  readonly acted: (options: Record<string, unknown>, outcome: Outcome) => Promise<boolean>;
  /** The policy's older names for the common options. */
  readonly aliases: Readonly<Record<string, string>>;
}

/** A function whose first call has `outcome`, later calls return 'ok'. */
function firstThen(outcome: Outcome): () => Promise<unknown> {
  let calls = 0;
  return () => {
    calls++;
    if (calls > 1) return Promise.resolve('ok');
    return 'error' in outcome ? Promise.reject(outcome.error) : Promise.resolve(outcome.result);
  };
}

const subjects: Subject[] = [
  {
    name: 'RetryPolicy',
    make: (o) => new RetryPolicy(o),
    aliases: { handle: 'retryOn', exclude: 'failOn', handleResult: 'retryResult' },
    acted: async (o, outcome) => {
      const retry = new RetryPolicy({ backoff: [0], ...o });
      let retried = false;
      retry.on('retry', () => {
        retried = true;
      });
      await retry.execute(firstThen(outcome)).catch(() => undefined);
      return retried;
    },
  },
  {
    name: 'CircuitBreaker',
    make: (o) => new CircuitBreaker(o),
    aliases: { handleResult: 'failureResult' },
    acted: async (o, outcome) => {
      const breaker = new CircuitBreaker({ rule: consecutiveFailures(1), ...o });
      await breaker.execute(firstThen(outcome)).catch(() => undefined);
      return breaker.state === 'open';
    },
  },
  {
    name: 'Fallback',
    make: (o) => new Fallback(() => 'fallback', o),
    aliases: {},
    acted: async (o, outcome) => {
      const fallback = new Fallback(() => 'fallback', o);
      const value = await fallback.execute(firstThen(outcome)).catch(() => undefined);
      return value === 'fallback';
    },
  },
];

/** [what, options, outcome, acted] */
const table: [string, ClassifyOptions, Outcome, boolean][] = [
  ['no options: an error is a failure', {}, { error: new Error('x') }, true],
  ['no options: a result is not', {}, { result: 503 }, false],
  ['handle by class: a match', { handle: ValidationError }, { error: new ValidationError() }, true],
  ['handle by class: no match', { handle: ValidationError }, { error: new Error('x') }, false],
  [
    'handle by class: the cause is not looked at',
    { handle: ValidationError },
    { error: new Error('w', { cause: new ValidationError() }) },
    false,
  ],
  ['handle by predicate', { handle: (e: unknown) => (e as Error).message === 'x' }, { error: new Error('x') }, true],
  [
    'handle by predicate: no match',
    { handle: (e: unknown) => (e as Error).message === 'x' },
    { error: new Error('y') },
    false,
  ],
  ['handle by code through the cause chain', { handle: 'ECONNRESET' }, { error: fetchFailed('ECONNRESET') }, true],
  ['handle by code: another code', { handle: ['ECONNRESET'] }, { error: fetchFailed('ETIMEDOUT') }, false],
  ['handle a list: any match', { handle: [ValidationError, 'ETIMEDOUT'] }, { error: fetchFailed('ETIMEDOUT') }, true],
  ['handle []: nothing is a failure', { handle: [] }, { error: new Error('x') }, false],
  ['exclude by class', { exclude: ValidationError }, { error: new ValidationError() }, false],
  ['exclude: others are failures', { exclude: ValidationError }, { error: new Error('x') }, true],
  ['exclude by code through the cause chain', { exclude: 'ECONNRESET' }, { error: fetchFailed('ECONNRESET') }, false],
  ['exclude wins over handle', { handle: Error, exclude: ValidationError }, { error: new ValidationError() }, false],
  [
    'handle with exclude: handled, not excluded',
    { handle: Error, exclude: ValidationError },
    { error: new TypeError() },
    true,
  ],
  [
    'handle: a TimeoutError from an inner policy follows the lists too',
    { handle: 'ECONNRESET' },
    { error: new TimeoutError(5) },
    false,
  ],
  ['handleResult true', { handleResult: (r: unknown) => r === 503 }, { result: 503 }, true],
  ['handleResult false', { handleResult: (r: unknown) => r === 503 }, { result: 200 }, false],
  [
    'handleResult does not change how errors are classified',
    { handleResult: () => false },
    { error: new Error('x') },
    true,
  ],
];

/** Renames the common options of `options` to the subject's aliases. */
function aliased(subject: Subject, options: ClassifyOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) out[subject.aliases[key] ?? key] = value;
  return out;
}

describe.each(subjects)('$name: the common classification options', (subject) => {
  it.each(table)('%s', async (_, options, outcome, expected) => {
    expect(await subject.acted(options as Record<string, unknown>, outcome)).toBe(expected);
  });

  it.each(table)('%s (under the older names)', async (_, options, outcome, expected) => {
    expect(await subject.acted(aliased(subject, options), outcome)).toBe(expected);
  });

  it('lists the common names among its known options', () => {
    let message = '';
    try {
      subject.make({ notAnOption__: 1 });
    } catch (error) {
      message = (error as Error).message;
    }
    for (const name of ['handle', 'exclude', 'handleResult', ...Object.values(subject.aliases)]) {
      expect(message).toContain(name);
    }
  });

  it('an option given under both its common name and its older name is a TypeError naming both', () => {
    for (const [common, alias] of Object.entries(subject.aliases)) {
      const value = common === 'handleResult' ? () => true : Error;
      expect(() => subject.make({ [common]: value, [alias]: value })).toThrow(TypeError);
      expect(() => subject.make({ [common]: value, [alias]: value })).toThrow(new RegExp(`${alias}.*${common}`));
      // undefined under one name is "not given".
      expect(() => subject.make({ [common]: value, [alias]: undefined })).not.toThrow();
      expect(() => subject.make({ [common]: undefined, [alias]: value })).not.toThrow();
    }
  });

  it.each([
    ['handle', 5],
    ['exclude', [Error, 5]],
    ['handleResult', 'yes'],
  ])('%s of the wrong type is a TypeError naming the option and the value', (name, value) => {
    expect(() => subject.make({ [name]: value })).toThrow(TypeError);
    expect(() => subject.make({ [name]: value })).toThrow(new RegExp(`${subject.name}: ${name}.*(5|"yes")`));
  });

  it('a handle predicate that throws is "no match", reported, and the call keeps its own error', async () => {
    const reports = collectReports();
    const bug = new Error('predicate bug');
    const own = new Error('own');
    const options = {
      handle: () => {
        throw bug;
      },
    };
    expect(await subject.acted(options, { error: own })).toBe(false);
    expect(reports).toEqual([{ error: bug, source: `${subject.name} handle matcher` }]);
  });

  it('an exclude predicate that throws is "no match" (the error stays a failure), reported', async () => {
    const reports = collectReports();
    const bug = new Error('predicate bug');
    const options = {
      exclude: () => {
        throw bug;
      },
    };
    expect(await subject.acted(options, { error: new Error('own') })).toBe(true);
    expect(reports).toEqual([{ error: bug, source: `${subject.name} exclude matcher` }]);
  });
});

describe('a handleResult predicate that throws', () => {
  const bug = new Error('classifier bug');
  const throwing = () => {
    throw bug;
  };

  it('CircuitBreaker: not a failure; the result is returned; the bug reported under the name used', async () => {
    const reports = collectReports();
    for (const name of ['handleResult', 'failureResult']) {
      reports.length = 0;
      const breaker = new CircuitBreaker({ rule: consecutiveFailures(1), [name]: throwing });
      await expect(breaker.execute(() => 503)).resolves.toBe(503);
      expect(breaker.state).toBe('closed');
      expect(reports).toEqual([{ error: bug, source: `CircuitBreaker "circuit-breaker" ${name}` }]);
    }
  });

  it('Fallback: not a failure; the result is returned; the bug reported', async () => {
    const reports = collectReports();
    await expect(new Fallback(() => 'fallback', { handleResult: throwing }).execute(() => 503)).resolves.toBe(503);
    expect(reports).toEqual([{ error: bug, source: 'Fallback handleResult' }]);
  });

  it('RetryPolicy: the call rejects at once with the predicate error (docs/reliability.md F8), under either name', async () => {
    for (const name of ['handleResult', 'retryResult']) {
      let calls = 0;
      const retry = new RetryPolicy({ backoff: [0, 0], [name]: throwing });
      await expect(retry.execute(() => ++calls)).rejects.toBe(bug);
      expect(calls).toBe(1);
    }
  });
});

describe("the caller's own cancellation is never a failure, whatever the options", () => {
  it.each(subjects)('$name', async (subject) => {
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const policy = subject.make({ handle: Error }) as {
      execute: (fn: () => Promise<unknown>, options: { signal: AbortSignal }) => Promise<unknown>;
    };
    const p = policy.execute(
      () =>
        new Promise((_, reject) => {
          controller.signal.addEventListener('abort', () => reject(reason));
        }),
      { signal: controller.signal },
    );
    let acted = false;
    if (policy instanceof RetryPolicy) {
      policy.on('retry', () => {
        acted = true;
      });
    }
    if (policy instanceof Fallback) {
      policy.on('fallback', () => {
        acted = true;
      });
    }
    controller.abort(reason);
    await expect(p).rejects.toBe(reason);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(acted).toBe(false);
    if (policy instanceof CircuitBreaker) expect(policy.metrics().requests).toBe(0);
  });
});

describe('Fallback handleResult', () => {
  it('hands the result to the handler and returns its value; events say so', async () => {
    const seen: unknown[] = [];
    const fallback = new Fallback((failure) => ({ replaced: failure }), { handleResult: (r) => r === 503 });
    fallback.on('fallback', (e) => seen.push(e));
    await expect(fallback.execute(() => 503)).resolves.toEqual({ replaced: 503 });
    await expect(fallback.execute(() => 200)).resolves.toBe(200);
    expect(seen).toEqual([{ error: 503, value: { replaced: 503 } }]);
  });
});

describe('classifier()', () => {
  it('is undefined when no option is given (every error is a failure, no result is)', () => {
    expect(classifier('X', {})).toBeUndefined();
    expect(acts(undefined, { aborted: false }, new Error('x'))).toBe(true);
    expect(acts(undefined, { aborted: true }, new Error('x'))).toBe(false);
  });

  it('reads aliases, and reports a result predicate under the name and source given', () => {
    const reports = collectReports();
    const c = classifier(
      'X',
      {
        older: () => {
          throw new Error('bug');
        },
      },
      { handleResult: 'older' },
      'X "n"',
    );
    expect(c?.failsResult(1)).toBe(false);
    expect(reports.map((r) => r.source)).toEqual(['X "n" older']);
  });

  it('a result predicate must return exactly true', () => {
    const c = classifier('X', { handleResult: () => 1 as unknown as boolean });
    expect(c?.failsResult(1)).toBe(false);
  });
});
