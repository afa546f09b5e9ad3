import { describe, expect, it } from 'vitest';
import {
  BulkheadRejectedError,
  CircuitOpenError,
  FallbackError,
  isStaunchError,
  StaunchError,
  TimeoutError,
} from '../../src/index.js';

/** An error as a second copy of the package would build it: another class, same brand. */
function foreign(code: string): Error {
  const error = new Error('from another copy');
  Object.defineProperty(error, Symbol.for('staunch.error'), { value: true });
  Object.defineProperty(error, 'code', { value: code });
  return error;
}

describe('errors', () => {
  it('carry stable codes, names and settings in their messages', () => {
    const t = new TimeoutError(250);
    expect(t.code).toBe('STAUNCH_TIMEOUT');
    expect(t.name).toBe('TimeoutError');
    expect(t.message).toContain('250 ms');
    expect(t.timeout).toBe(250);
    const c = new CircuitOpenError('open', 1000, 400);
    expect([c.code, c.retryAt, c.retryAfter]).toEqual(['STAUNCH_CIRCUIT_OPEN', 1000, 400]);
    const b = new BulkheadRejectedError('full', 'queue-full', 10, 0);
    expect([b.code, b.reason, b.maxConcurrent, b.maxQueue]).toEqual(['STAUNCH_BULKHEAD_REJECTED', 'queue-full', 10, 0]);
  });

  it('FallbackError keeps the original error and the handler error as cause', () => {
    const original = new Error('upstream');
    const handler = new Error('cache down');
    const e = new FallbackError(original, handler);
    expect(e.error).toBe(original);
    expect(e.cause).toBe(handler);
    expect(e.code).toBe('STAUNCH_FALLBACK_FAILED');
    expect(e.message).toContain('cache down');
    expect(e.message).toContain('upstream');
  });

  it('are instances of StaunchError and Error, and not of each other', () => {
    const t = new TimeoutError(1);
    expect(t).toBeInstanceOf(Error);
    expect(t).toBeInstanceOf(StaunchError);
    expect(t).toBeInstanceOf(TimeoutError);
    expect(t).not.toBeInstanceOf(CircuitOpenError);
    expect(new Error('x')).not.toBeInstanceOf(StaunchError);
    expect(isStaunchError(t)).toBe(true);
    expect(isStaunchError(new Error('x'))).toBe(false);
    expect(isStaunchError(null)).toBe(false);
    expect(isStaunchError('STAUNCH_TIMEOUT')).toBe(false);
  });

  it('are recognised across duplicate copies of the package', () => {
    expect(foreign('STAUNCH_TIMEOUT')).toBeInstanceOf(TimeoutError);
    expect(foreign('STAUNCH_TIMEOUT')).toBeInstanceOf(StaunchError);
    expect(foreign('STAUNCH_TIMEOUT')).not.toBeInstanceOf(CircuitOpenError);
    expect(foreign('STAUNCH_CIRCUIT_OPEN')).toBeInstanceOf(CircuitOpenError);
    expect(isStaunchError(foreign('STAUNCH_BULKHEAD_REJECTED'))).toBe(true);
  });

  it('are recognised when they come from a separately loaded module instance', async () => {
    const copy = (await import('../../src/core/errors.js?copy' as string)) as typeof import('../../src/core/errors.js');
    expect(copy.TimeoutError).not.toBe(TimeoutError);
    const e = new copy.TimeoutError(5);
    expect(e).toBeInstanceOf(TimeoutError);
    expect(new TimeoutError(5)).toBeInstanceOf(copy.TimeoutError);
    expect(e).not.toBeInstanceOf(FallbackError);
  });
});
