import { Context, type ExecutionContext, proceed } from '../core/context.js';
import type { CircuitController } from './CircuitController.js';

/**
 * @internal The circuit breaker's two execution variants beside its plain `_run` path, kept out of
 * the policy so that it reads as "admit, proceed, report". Both only count `concurrent` and hand
 * the outcome to the controller.
 */

/**
 * A call with a queue between the breaker and the function: it counts in `concurrent` only from
 * the moment the function starts (a context whose `fn` marks it) until the call settles.
 */
export function runQueued(
  c: CircuitController,
  context: Context,
  next: number,
  generation: number,
  start: number,
  trial: boolean,
): Promise<unknown> {
  const fn = context.fn;
  // 0: waiting, 1: reached the function (counted), 2: settled.
  let phase = 0;
  const marked = (ctx: ExecutionContext): unknown => {
    if (phase === 0) {
      phase = 1;
      c.concurrent++;
    }
    return fn(ctx);
  };
  const inner = new Context(marked, context.chain, context.attempt, context, undefined);
  const done = (): void => {
    if (phase === 1) c.concurrent--;
    phase = 2;
  };
  return proceed(inner, next).then(
    (result) => {
      done();
      c.onResult(result, generation, start, trial);
      return result;
    },
    (error: unknown) => {
      done();
      c.onError(error, generation, start, trial, context.aborted);
      throw error;
    },
  );
}

/**
 * The outcome handlers of the untimed, uncancellable closed-state calls of one generation: they
 * need no per-call state, so such calls share these two functions instead of making two closures
 * each (a measurable part of the breaker's cost per call).
 */
export class SharedOutcome {
  readonly generation: number;
  readonly onValue: (result: unknown) => unknown;
  readonly onError: (error: unknown) => never;
  constructor(controller: CircuitController, generation: number) {
    this.generation = generation;
    this.onValue = (result) => {
      controller.concurrent--;
      controller.onResult(result, generation, Number.NaN, false);
      return result;
    };
    this.onError = (error) => {
      controller.concurrent--;
      controller.onError(error, generation, Number.NaN, false, false);
      throw error;
    };
  }
}
