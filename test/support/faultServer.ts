/**
 * A fault-injecting HTTP upstream for reliability tests: listens on 127.0.0.1 on an ephemeral
 * port and answers according to a mode that the test switches at will. It records what it saw
 * (every request, how many were in flight at once) so tests can assert on the upstream's side.
 * Loopback only; `close()` drops every socket, keep-alive ones included.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultMode =
  /** 200 with `body` (default "ok"), after `delay` ms (default 0). */
  | { readonly kind: 'healthy'; readonly delay?: number; readonly body?: string }
  /** An error status, optionally with a Retry-After header, after `delay` ms. */
  | {
      readonly kind: 'error';
      readonly status: number;
      readonly retryAfter?: string;
      readonly delay?: number;
      /** The response body. Default `error <status>`. */
      readonly body?: string;
    }
  /** Destroys the connection without answering (the client sees ECONNRESET / "fetch failed"). */
  | { readonly kind: 'reset' }
  /** Never answers (until the client gives up or the server closes). */
  | { readonly kind: 'hang' }
  /** Waits until {@link FaultServer.release} is called, then answers 200 "held". */
  | { readonly kind: 'held' };

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  /** The mode that answered it. */
  readonly mode: FaultMode['kind'];
  /** `performance.now()` when the request arrived. */
  readonly at: number;
}

export interface FaultServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: readonly SeenRequest[];
  /** Requests received and neither answered nor abandoned by the client yet. */
  readonly inFlight: number;
  /** The largest `inFlight` seen. */
  readonly maxInFlight: number;
  /** TCP connections open now. */
  readonly connections: number;
  /** Switches how requests are answered from now on (requests already held keep their mode). */
  setMode(mode: FaultMode): void;
  /** Answers the next requests with these modes in turn; the last one then stays. */
  script(...modes: readonly FaultMode[]): void;
  /** Answers every request held by the `held` mode. Returns how many were released. */
  release(): number;
  /** Resolves when `inFlight` is `n` (polling), or rejects after `ms`. */
  waitInFlight(n: number, ms?: number): Promise<void>;
  /** Forgets the request log and the in-flight peak. */
  resetStats(): void;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

/** Starts a fault server on 127.0.0.1 with an ephemeral port. */
export async function startFaultServer(initial: FaultMode = { kind: 'healthy' }): Promise<FaultServer> {
  let mode: FaultMode = initial;
  let queue: FaultMode[] = [];
  const requests: SeenRequest[] = [];
  const held: ServerResponse[] = [];
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let maxInFlight = 0;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const scripted = queue.shift();
    if (scripted !== undefined && queue.length === 0) mode = scripted;
    const current = scripted ?? mode;
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', mode: current.kind, at: performance.now() });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let open = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = (): void => {
      if (!open) return;
      open = false;
      inFlight--;
      if (timer !== undefined) clearTimeout(timer);
    };
    // 'close' fires both when the answer is complete and when the client goes away first.
    res.on('close', done);
    // Drain the request body so keep-alive can reuse the socket.
    req.resume();
    const later = (ms: number | undefined, fn: () => void): void => {
      if (ms === undefined || ms <= 0) fn();
      else timer = setTimeout(fn, ms);
    };
    switch (current.kind) {
      case 'healthy':
        later(current.delay, () => res.writeHead(200, { 'content-type': 'text/plain' }).end(current.body ?? 'ok'));
        break;
      case 'error':
        later(current.delay, () => {
          const headers: Record<string, string> = { 'content-type': 'text/plain' };
          if (current.retryAfter !== undefined) headers['retry-after'] = current.retryAfter;
          res.writeHead(current.status, headers).end(current.body ?? `error ${current.status}`);
        });
        break;
      case 'reset':
        req.socket.destroy();
        break;
      case 'hang':
        break;
      case 'held':
        held.push(res);
        break;
    }
  };

  const server: Server = createServer(handle);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get connections() {
      return sockets.size;
    },
    setMode(next) {
      queue = [];
      mode = next;
    },
    script(...modes) {
      queue = [...modes];
    },
    release() {
      const list = held.splice(0);
      for (const res of list) {
        if (!res.destroyed) res.writeHead(200, { 'content-type': 'text/plain' }).end('held');
      }
      return list.length;
    },
    async waitInFlight(n, ms = 5000) {
      const until = performance.now() + ms;
      while (inFlight !== n) {
        if (performance.now() > until) throw new Error(`upstream: ${inFlight} requests in flight, expected ${n}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    resetStats() {
      requests.length = 0;
      maxInFlight = inFlight;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
      });
    },
  };
}
