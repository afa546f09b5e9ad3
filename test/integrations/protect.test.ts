// The seam of the server integrations (issue 12): `protect` runs the request flow for any
// framework that presents a request as an `Exchange`. A toy in-memory "framework" shows that an
// adapter of a few functions gets the whole behaviour: selection, timeout answered as it fires,
// status failures, the Fallback answer, cutting a half-sent response and handing errors over.
import { describe, expect, it } from 'vitest';
import {
  Bulkhead,
  BulkheadRejectedError,
  CircuitBreaker,
  Fallback,
  type Policy,
  pipeline,
  Timeout,
} from '../../src/index.js';
import { httpResponse } from '../../src/integrations/shared/answer.js';
import type { ErrorResponse, PolicyFactory } from '../../src/integrations/shared/http.js';
import {
  type Exchange,
  type HandOver,
  type Moment,
  protect,
  protection,
} from '../../src/integrations/shared/protect.js';

/** A toy response: what was sent, when, and what was handed over. */
interface Toy {
  status: number;
  started: boolean;
  cut: boolean;
  readonly sent: { readonly answer: ErrorResponse; readonly moment: Moment }[];
  readonly handedOver: { readonly error: unknown; readonly why: HandOver }[];
  readonly client: AbortController;
  signal: AbortSignal | undefined;
}

/** The toy adapter: `handler` plays the framework's handlers (it may set the status or start). */
function toyExchange(toy: Toy, handler: (toy: Toy) => Promise<void>): Exchange {
  return {
    clientSignal: () => toy.client.signal,
    started: () => toy.started,
    status: () => toy.status,
    cut: () => {
      if (!toy.started || toy.cut) return false;
      toy.cut = true;
      return true;
    },
    send: (answer, moment) => {
      toy.sent.push({ answer, moment });
      toy.status = answer.status;
      toy.started = true;
    },
    proceed: async (call) => {
      toy.signal = call.signal;
      await handler(toy);
      return true;
    },
    handOver: (error, why) => {
      toy.handedOver.push({ error, why });
    },
  };
}

function newToy(): Toy {
  return {
    status: 200,
    started: false,
    cut: false,
    sent: [],
    handedOver: [],
    client: new AbortController(),
    signal: undefined,
  };
}

async function run(
  policy: Policy<unknown> | PolicyFactory,
  handler: (toy: Toy) => Promise<void>,
  extra: { readonly key?: (request: string) => string } = {},
): Promise<{ readonly toy: Toy; readonly stands: boolean }> {
  const toy = newToy();
  const stands = await protect(protection('toy', { policy, ...extra }), 'request', toyExchange(toy, handler));
  return { toy, stands };
}

const never = (toy: Toy): Promise<void> =>
  new Promise((_resolve, reject) => {
    toy.signal?.addEventListener('abort', () => reject(toy.signal?.reason));
  });

describe('protect (the integrations seam)', () => {
  it("lets the handlers' own response stand", async () => {
    const { toy, stands } = await run(new Bulkhead({ maxConcurrent: 10 }), async (t) => {
      t.started = true;
    });
    expect(stands).toBe(true);
    expect(toy.sent).toEqual([]);
    expect(toy.handedOver).toEqual([]);
  });

  it('answers a timeout the moment it fires (final), and the call ends there', async () => {
    const { toy, stands } = await run(new Timeout(10), never);
    expect(stands).toBe(false);
    expect(toy.sent.map((s) => [s.answer.status, s.moment])).toEqual([[504, 'abort']]);
    expect(toy.handedOver).toEqual([]);
  });

  it('cuts a response already started when the timeout fires, never answering it', async () => {
    const { toy } = await run(new Timeout(10), async (t) => {
      t.started = true;
      await never(t);
    });
    expect(toy.cut).toBe(true);
    expect(toy.sent).toEqual([]);
    expect(toy.handedOver).toEqual([]);
  });

  it('counts a failure status against the call, and the response stands', async () => {
    const breaker = new CircuitBreaker({ volumeThreshold: 1, errorThresholdPercentage: 50 });
    const { toy, stands } = await run(breaker, async (t) => {
      t.status = 502;
    });
    expect(stands).toBe(true);
    expect(toy.sent).toEqual([]);
    expect(breaker.state).toBe('open');
  });

  it("sends a Fallback's value for a failed handler (httpResponse as is, undefined → 204)", async () => {
    const custom = await run(new Fallback(() => httpResponse({ status: 503, body: 'busy' })), async () => {
      throw new Error('boom');
    });
    expect(custom.toy.sent.map((s) => [s.answer.status, s.answer.body, s.moment])).toEqual([[503, 'busy', 'fallback']]);
    const empty = await run(new Fallback(() => undefined), async () => {
      throw new Error('boom');
    });
    expect(empty.toy.sent.map((s) => [s.answer.status, s.moment])).toEqual([[204, 'fallback']]);
  });

  it("maps staunch's errors and hands the others over", async () => {
    const shed = await run(pipeline(new Bulkhead({ maxConcurrent: 10 })), async () => {
      throw new BulkheadRejectedError('full', 'queue-full', 1, 0);
    });
    expect(shed.toy.sent.map((s) => [s.answer.status, s.moment])).toEqual([[503, 'error']]);
    const boom = new Error('boom');
    const other = await run(new Bulkhead({ maxConcurrent: 10 }), async () => {
      throw boom;
    });
    expect(other.toy.sent).toEqual([]);
    expect(other.toy.handedOver).toEqual([{ error: boom, why: 'unmapped' }]);
  });

  it('cuts a half-sent response whose handler failed and hands the error over', async () => {
    const boom = new Error('boom');
    const { toy } = await run(new Bulkhead({ maxConcurrent: 10 }), async (t) => {
      t.started = true;
      throw boom;
    });
    expect(toy.cut).toBe(true);
    expect(toy.handedOver).toEqual([{ error: boom, why: 'halfSent' }]);
  });

  it('hands over the error of a key function, before anything runs', async () => {
    const boom = new Error('no key');
    let ran = false;
    const { toy } = await run(
      () => new Bulkhead({ maxConcurrent: 10 }),
      async () => {
        ran = true;
      },
      {
        key: () => {
          throw boom;
        },
      },
    );
    expect(ran).toBe(false);
    expect(toy.handedOver).toEqual([{ error: boom, why: 'unselected' }]);
  });

  it('sends nothing for a client that left', async () => {
    const toy = newToy();
    const exchange = toyExchange(toy, async (t) => {
      t.client.abort(new Error('gone'));
      await never(t);
    });
    await protect(protection('toy', { policy: new Bulkhead({ maxConcurrent: 10 }) }), 'request', exchange);
    expect(toy.sent).toEqual([]);
    expect(toy.handedOver).toEqual([]);
  });
});
