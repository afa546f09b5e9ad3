/**
 * Issue 11 item 16 (the middleware part): every framework's middleware checks its options at
 * construction — unknown names, wrong types (`null` included: never a silent default) as a
 * `TypeError`, wrong values as a `RangeError`, each naming the middleware, the option and the value.
 */
import { describe, expect, it } from 'vitest';
import { Bulkhead } from '../../src/bulkhead/index.js';
import { staunchErrorHandler } from '../../src/integrations/express/index.js';
import { CONSTRUCTORS } from './shared-frameworks.js';

const policy = new Bulkhead({ maxConcurrent: 2 });

for (const [name, build] of CONSTRUCTORS) {
  const owner = `staunch/${name}`;
  describe(`${owner} options`, () => {
    it('accepts every known option', async () => {
      await expect(
        build({
          policy: () => new Bulkhead(),
          key: () => 'k',
          maxPolicies: 5,
          failureStatus: (status: number) => status >= 500,
          bulkheadStatus: 429,
          bulkheadRetryAfter: false,
          body: () => 'busy',
          mapError: () => undefined,
        }),
      ).resolves.toBeUndefined();
      await expect(build({ policy, bulkheadRetryAfter: 0, bulkheadStatus: 503 })).resolves.toBeUndefined();
    });

    it('rejects an unknown option name, suggesting the known one', async () => {
      await expect(build({ policy, maxPolicy: 5 })).rejects.toThrow(TypeError);
      await expect(build({ policy, maxPolicy: 5 })).rejects.toThrow(
        new RegExp(`^${owner}: unknown option "maxPolicy" \\(did you mean "maxPolicies"\\?\\)`),
      );
      await expect(build({ policy, failurestatus: () => true })).rejects.toThrow(/unknown option "failurestatus"/);
      await expect(build({ policy, onError: () => undefined })).rejects.toThrow(TypeError);
    });

    it('failureStatus must be a function (`true` would count every response as a failure)', async () => {
      for (const value of [true, 500, 'always', {}]) {
        const attempt = build({ policy, failureStatus: value });
        await expect(attempt).rejects.toThrow(TypeError);
        await expect(build({ policy, failureStatus: value })).rejects.toThrow(
          new RegExp(`^${owner}: failureStatus must be a function, got `),
        );
      }
    });

    it('null is a TypeError for every option, never "use the default"', async () => {
      const base = { policy: () => new Bulkhead(), key: () => 'k' };
      for (const option of [
        'failureStatus',
        'key',
        'maxPolicies',
        'bulkheadStatus',
        'bulkheadRetryAfter',
        'body',
        'mapError',
      ]) {
        const attempt = build({ ...base, [option]: null });
        await expect(attempt, option).rejects.toThrow(TypeError);
        await expect(build({ ...base, [option]: null }), option).rejects.toThrow(
          new RegExp(`${owner}: ${option} must be .*got null`),
        );
      }
      await expect(build({ policy: null })).rejects.toThrow(TypeError);
    });

    it('checks key, maxPolicies and policy: TypeError for a wrong type, RangeError for a wrong value', async () => {
      const factory = () => new Bulkhead();
      await expect(build({ policy: factory, key: 'path' })).rejects.toThrow(
        new RegExp(`^${owner}: key must be a function, got "path"`),
      );
      // (Fastify calls a factory without a key once per route.)
      if (name !== 'fastify') await expect(build({ policy: factory })).rejects.toThrow(/needs a key function/);
      await expect(build({ policy: factory, key: () => 'k', maxPolicies: '5' })).rejects.toThrow(TypeError);
      for (const bad of [0, -1, 1.5, Number.POSITIVE_INFINITY, Number.NaN]) {
        await expect(build({ policy: factory, key: () => 'k', maxPolicies: bad }), String(bad)).rejects.toThrow(
          RangeError,
        );
      }
      await expect(build({ policy: factory, key: () => 'k', maxPolicies: 0 })).rejects.toThrow(
        new RegExp(`^${owner}: maxPolicies must be >= 1, got 0`),
      );
      await expect(build({ policy: {} })).rejects.toThrow(TypeError);
      await expect(build({ policy: 'breaker' })).rejects.toThrow(
        new RegExp(`^${owner}: policy must be a staunch policy or a factory function, got "breaker"`),
      );
    });

    it('checks the mapping options: TypeError for a wrong type, RangeError for a wrong value', async () => {
      await expect(build({ policy, bulkheadStatus: '503' })).rejects.toThrow(TypeError);
      await expect(build({ policy, bulkheadStatus: 500 })).rejects.toThrow(RangeError);
      await expect(build({ policy, bulkheadRetryAfter: '1' })).rejects.toThrow(TypeError);
      await expect(build({ policy, bulkheadRetryAfter: true })).rejects.toThrow(TypeError);
      await expect(build({ policy, bulkheadRetryAfter: -1 })).rejects.toThrow(RangeError);
      await expect(build({ policy, bulkheadRetryAfter: 1.5 })).rejects.toThrow(RangeError);
      await expect(build({ policy, body: 'busy' })).rejects.toThrow(/body must be a function, got "busy"/);
      await expect(build({ policy, mapError: {} })).rejects.toThrow(TypeError);
    });

    if (name !== 'fastify') {
      it('options must be an object', async () => {
        for (const value of [undefined, null, 'policy', [policy]]) {
          await expect(build(value), String(value)).rejects.toThrow(new RegExp(`^${owner}: options must be an object`));
        }
      });
    }
  });
}

describe('staunchErrorHandler options', () => {
  it('takes the mapping options only, checked like the middleware', () => {
    expect(() => staunchErrorHandler()).not.toThrow();
    expect(() => staunchErrorHandler({ bulkheadStatus: 429, body: () => 'x' })).not.toThrow();
    expect(() => staunchErrorHandler({ policy } as never)).toThrow(/unknown option "policy"/);
    expect(() => staunchErrorHandler({ mapError: null } as never)).toThrow(TypeError);
    expect(() => staunchErrorHandler(null as never)).toThrow(TypeError);
  });
});
