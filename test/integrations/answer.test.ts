import { describe, expect, it } from 'vitest';
import { httpResponse as fromExpress } from '../../src/integrations/express/index.js';
import { httpResponse as fromFastify } from '../../src/integrations/fastify/index.js';
import { httpResponse as fromHono } from '../../src/integrations/hono/index.js';
import { httpResponse as fromKoa } from '../../src/integrations/koa/index.js';
import { cutHalfSent, fallbackAnswer, httpResponse } from '../../src/integrations/shared/answer.js';

describe('httpResponse and what a Fallback answers in a server policy', () => {
  it('is exported by each server integration', () => {
    for (const made of [fromExpress, fromFastify, fromKoa, fromHono]) expect(made).toBe(httpResponse);
  });

  it('an httpResponse is sent as is; undefined is a 204; any other value a 200 body', () => {
    const made = httpResponse({ status: 503, headers: { 'retry-after': '3' }, body: { busy: true } });
    expect(fallbackAnswer(made)).toBe(made);
    expect(fallbackAnswer(made)).toEqual({ status: 503, headers: { 'retry-after': '3' }, body: { busy: true } });
    expect(fallbackAnswer(undefined)).toEqual({ status: 204, headers: {}, body: '' });
    // A look-alike plain object is data, not a response.
    const lookAlike = { status: 500, headers: {}, body: 'x' };
    expect(fallbackAnswer(lookAlike)).toEqual({ status: 200, headers: {}, body: lookAlike });
    expect(fallbackAnswer('cached')).toEqual({ status: 200, headers: {}, body: 'cached' });
    expect(httpResponse({ status: 200 })).toEqual({ status: 200, headers: {}, body: '' });
  });

  it('validates its input', () => {
    expect(() => httpResponse(null as never)).toThrow(TypeError);
    expect(() => httpResponse({ status: '200' as never })).toThrow(/httpResponse: status must be a number/);
    expect(() => httpResponse({ status: 99 })).toThrow(RangeError);
    expect(() => httpResponse({ status: 600 })).toThrow(/200 to 599, got 600/);
    expect(() => httpResponse({ status: 200.5 })).toThrow(RangeError);
    expect(() => httpResponse({ status: 200, headers: { a: 1 as never } })).toThrow(TypeError);
  });

  it('cutHalfSent destroys only a response whose headers went out and whose end did not', () => {
    const make = (headersSent: boolean, writableEnded: boolean) => {
      const res = { headersSent, writableEnded, destroyed: false, destroy: () => (res.destroyed = true) };
      return res;
    };
    const notStarted = make(false, false);
    const ended = make(true, true);
    const half = make(true, false);
    expect([cutHalfSent(notStarted), cutHalfSent(ended), cutHalfSent(half)]).toEqual([false, false, true]);
    expect([notStarted.destroyed, ended.destroyed, half.destroyed]).toEqual([false, false, true]);
    // Once destroyed, never again.
    expect(cutHalfSent(half)).toBe(false);
  });
});
