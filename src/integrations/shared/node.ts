/**
 * Node-specific helpers of the server integrations, written against minimal structural types so
 * that nothing here needs `@types/node` at the user's side.
 */
import { cutHalfSent, type HalfSentLike } from './answer.js';
import { clientClosedReason, type ErrorResponse, serializeBody } from './http.js';
import type { Exchange } from './protect.js';

/** The parts of `http.ServerResponse` used here. */
export interface NodeResponseLike {
  readonly writableFinished: boolean;
  readonly headersSent: boolean;
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(chunk?: string): unknown;
  on(event: 'close' | 'finish', listener: () => void): unknown;
  removeListener(event: 'close' | 'finish', listener: () => void): unknown;
}

/** A signal that aborts when the client disconnects before the response is finished. */
export interface ClientWatch {
  readonly signal: AbortSignal;
  /** Stops watching (removes the listener). Idempotent. */
  dispose(): void;
}

/**
 * Watches `res` for a disconnect: a `'close'` before the response finished writing aborts the
 * signal with an `AbortError` `DOMException`.
 */
export function watchClient(res: NodeResponseLike): ClientWatch {
  const controller = new AbortController();
  const onClose = (): void => {
    res.removeListener('close', onClose);
    if (!res.writableFinished) controller.abort(clientClosedReason());
  };
  res.on('close', onClose);
  return {
    signal: controller.signal,
    dispose: () => {
      res.removeListener('close', onClose);
    },
  };
}

/**
 * Resolves when `res` has finished or closed, removing its listeners either way.
 * @returns whether the response finished writing.
 */
export function responseDone(res: NodeResponseLike): Promise<boolean> {
  if (res.writableFinished) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (): void => {
      res.removeListener('finish', done);
      res.removeListener('close', done);
      resolve(res.writableFinished);
    };
    res.on('finish', done);
    res.on('close', done);
  });
}

/** Writes a mapped error response with Node's own API. */
export function sendNode(res: NodeResponseLike, response: ErrorResponse): void {
  const { text, type } = serializeBody(response.body);
  res.statusCode = response.status;
  res.setHeader('content-type', type);
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  res.end(text);
}

/** The parts of an {@link Exchange} every Node response gives alike. */
export type NodeExchange = Required<Pick<Exchange, 'clientSignal' | 'settled' | 'started' | 'cut'>>;

/**
 * What a Node response gives the request flow: the client's disconnect ({@link watchClient},
 * watched from `clientSignal()` until `settled()`), whether it started (`headersSent`), and how a
 * half-sent one is cut ({@link cutHalfSent}).
 */
export function nodeExchange(res: NodeResponseLike & HalfSentLike): NodeExchange {
  let client: ClientWatch | undefined;
  return {
    clientSignal: () => {
      client = watchClient(res);
      return client.signal;
    },
    settled: () => client?.dispose(),
    started: () => res.headersSent,
    cut: () => cutHalfSent(res),
  };
}
