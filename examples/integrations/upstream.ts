/**
 * A flaky upstream for the integration examples: `GET /quote` fails with 503 (Retry-After: 0)
 * for the first `failures` requests, then answers; `GET /slow` answers after `slowMs`.
 * Listens on 127.0.0.1 on an ephemeral port.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function startUpstream(options: { failures?: number; slowMs?: number } = {}) {
  let failures = options.failures ?? 2;
  let served = 0;
  const server = createServer((req, res) => {
    served++;
    if (req.url === '/slow') {
      const timer = setTimeout(() => res.end('slow answer'), options.slowMs ?? 2_000);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    if (failures > 0) {
      failures--;
      res.writeHead(503, { 'retry-after': '0' }).end('upstream overloaded');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ price: 42 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    /** Requests the upstream received. */
    served: () => served,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The base URL of a listening Node server. */
export function urlOf(server: { address(): unknown }): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
