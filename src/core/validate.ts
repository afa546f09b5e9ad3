import type { Clock } from './clock.js';

/**
 * Construction-time validation shared by every policy. Bad input is a `TypeError` (wrong type,
 * unknown option) or a `RangeError` (right type, wrong value) whose message names the policy, the
 * option and the value — never a silent default. Only `undefined` (an absent option) means "the
 * default": `null` is a wrong type like any other, so never write `value ?? fallback` on an option.
 */

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/** Checks that `options` is an object (or undefined) whose keys are all known. */
export function checkOptions(owner: string, options: unknown, known: readonly string[]): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${owner}: options must be an object, got ${show(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const hint = closest(key, known);
      throw new TypeError(
        `${owner}: unknown option "${key}"${hint === undefined ? '' : ` (did you mean "${hint}"?)`}; known options: ${known.join(', ')}`,
      );
    }
  }
}

export interface NumberRule {
  /** Smallest allowed value (inclusive unless `minExclusive`). */
  readonly min?: number;
  readonly minExclusive?: boolean;
  /** Largest allowed value (inclusive). */
  readonly max?: number;
  /** Must be an integer (Infinity passes only with `allowInfinity`). */
  readonly integer?: boolean;
  readonly allowInfinity?: boolean;
}

/** Validates a numeric option; returns `fallback` when `value` is undefined (only then: `null` is a TypeError). */
export function numberOption(owner: string, name: string, value: unknown, fallback: number, rule: NumberRule): number {
  if (value === undefined) return fallback;
  return checkNumber(owner, name, value, rule);
}

/** Validates a required number. */
export function checkNumber(owner: string, name: string, value: unknown, rule: NumberRule): number {
  if (typeof value !== 'number') throw new TypeError(`${owner}: ${name} must be a number, got ${show(value)}`);
  if (Number.isNaN(value)) throw new RangeError(`${owner}: ${name} must be a number, got NaN`);
  if (value === Number.POSITIVE_INFINITY && rule.allowInfinity === true) return value;
  if (!Number.isFinite(value)) throw new RangeError(`${owner}: ${name} must be finite, got ${show(value)}`);
  if (rule.integer === true && !Number.isInteger(value)) {
    throw new RangeError(`${owner}: ${name} must be an integer, got ${show(value)}`);
  }
  const { min, max } = rule;
  if (min !== undefined && (rule.minExclusive === true ? value <= min : value < min)) {
    throw new RangeError(
      `${owner}: ${name} must be ${rule.minExclusive === true ? '>' : '>='} ${min}, got ${show(value)}`,
    );
  }
  if (max !== undefined && value > max) throw new RangeError(`${owner}: ${name} must be <= ${max}, got ${show(value)}`);
  return value;
}

/** Validates an optional function option. */
export function functionOption<F>(owner: string, name: string, value: unknown): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new TypeError(`${owner}: ${name} must be a function, got ${show(value)}`);
  return value as F;
}

/** Validates an optional boolean option. */
export function booleanOption(owner: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${owner}: ${name} must be a boolean, got ${show(value)}`);
  return value;
}

/**
 * Validates an optional {@link Clock} option: an object with `now`, `setTimeout` and `clearTimeout`
 * methods (only `now` when `timers` is false), whose `now()` returns a finite number. `now()` is
 * called once, here: a clock that returns nothing (or NaN, or a string) would otherwise make every
 * deadline unreachable. Only `undefined` means the default; `null` is a TypeError.
 */
export function clockOption(owner: string, value: unknown, timers = true): Clock | undefined {
  if (value === undefined) return undefined;
  const clock = value as Partial<Clock> | null;
  if (
    typeof clock !== 'object' ||
    clock === null ||
    typeof clock.now !== 'function' ||
    (timers && (typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function'))
  ) {
    throw new TypeError(
      `${owner}: clock must be a Clock (${timers ? 'now, setTimeout, clearTimeout' : 'an object with now()'}), got ${show(value)}`,
    );
  }
  let reading: unknown;
  try {
    reading = clock.now();
  } catch (error) {
    throw new TypeError(`${owner}: clock.now() threw: ${error instanceof Error ? error.message : show(error)}`, {
      cause: error,
    });
  }
  if (typeof reading !== 'number' || !Number.isFinite(reading)) {
    throw new TypeError(`${owner}: clock.now() must return a finite number of milliseconds, got ${show(reading)}`);
  }
  return value as Clock;
}

/** The largest delay `setTimeout` accepts, in milliseconds (about 24.8 days). */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** The known name nearest to `key` by edit distance, when it is plausibly a typo. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const lower = key.toLowerCase();
  for (const candidate of known) {
    const other = candidate.toLowerCase();
    // A name that is the start of a known one but for a letter ("maxRetry" for "maxRetries"),
    // or a known one with something appended ("timeoutMs"), is a typo too.
    if (lower.length >= 4 && (distance(lower, other.slice(0, lower.length)) <= 1 || lower.startsWith(other))) {
      return candidate;
    }
    const d = distance(lower, other);
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}

export { show as showValue };
