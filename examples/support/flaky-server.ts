/**
 * A deliberately unreliable HTTP upstream on 127.0.0.1, for the examples: each request does what
 * the current `mode` says. The examples start it and close it, so they exit on their own.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the upstream answers the next requests. */
export type Mode =
  | 'ok' // 200 at once
  | 'fail' // 503 at once
  | 'flaky' // 503 for every other request
  | 'hang' // never answers (until the client gives up or the server closes)
  | { readonly slow: number }; // 200 after that many milliseconds

export interface FlakyServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** The current behaviour; change it at any time. */
  mode: Mode;
  /** Requests received so far. */
  readonly requests: number;
  /**
   * Called when a request arrives in `'hang'` mode: the upstream has visibly stopped answering it.
   * The demo uses it to skip the deadline's wait instead of sleeping through it.
   */
  onHang: (() => void) | undefined;
  /** Stops listening and drops open connections (hung requests included). */
  close(): Promise<void>;
}

export async function startFlakyServer(initial: Mode = 'ok'): Promise<FlakyServer> {
  let requests = 0;
  const state: { mode: Mode; onHang: (() => void) | undefined } = { mode: initial, onHang: undefined };
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const server = createServer((req, res) => {
    requests++;
    const reply = (status: number) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status === 200 ? { price: 42, path: req.url } : { error: 'unavailable' }));
    };
    const mode = state.mode;
    if (mode === 'ok') reply(200);
    else if (mode === 'fail') reply(503);
    else if (mode === 'flaky') reply(requests % 2 === 0 ? 503 : 200);
    else if (mode === 'hang') state.onHang?.();
    else {
      const timer = setTimeout(() => {
        timers.delete(timer);
        reply(200);
      }, mode.slow);
      timers.add(timer);
      res.on('close', () => {
        clearTimeout(timer);
        timers.delete(timer);
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get mode() {
      return state.mode;
    },
    set mode(mode: Mode) {
      state.mode = mode;
    },
    get requests() {
      return requests;
    },
    get onHang() {
      return state.onHang;
    },
    set onHang(listener: (() => void) | undefined) {
      state.onHang = listener;
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

/** An HTTP error status, so the policies can tell failures from successes. */
export class HttpError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
    this.name = 'HttpError';
  }
}
