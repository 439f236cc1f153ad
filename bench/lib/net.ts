// Waiting for endpoints by polling a real connect (no fixed sleeps), free ports, network namespaces.
import net from 'node:net';
import { Timeout } from './proc.js';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True when a connection to the endpoint succeeds (and is closed at once). */
export function canConnect(target: { port: number; host?: string } | { path: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const s = 'path' in target ? net.connect(target.path) : net.connect(target.port, target.host ?? '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Polls `check` until it is true; throws Timeout after `ms`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, ms = 10_000, everyMs = 10): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Timeout(what, ms);
    await pause(everyMs);
  }
}

/** A port that was free on 127.0.0.1 a moment ago (the kernel's choice). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
