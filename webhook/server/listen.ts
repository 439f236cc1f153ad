// Starting and stopping an HTTPS server, shared by the webhook server and the metrics server.
import type https from 'node:https';
import type { AddressInfo } from 'node:net';

/** Listens on port/host; rejects on a listen error (port taken, address not available). */
export async function listen(server: https.Server, port: number, host: string | undefined): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

/**
 * Closes the server: no new connections, idle keep-alive connections at once, busy ones after
 * `graceMs` (0: at once).
 */
export async function close(server: https.Server, graceMs: number): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    if (graceMs === 0) {
      server.closeAllConnections();
      return;
    }
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), graceMs).unref();
  });
}
