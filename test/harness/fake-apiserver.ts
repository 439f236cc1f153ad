// A small HTTP stand-in for the API server on 127.0.0.1, for the informer and watch suites: the test
// answers each request (lists, watches, failures on purpose); this starts it, builds a KubeConfig for
// it and closes it with every open watch stream.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export interface FakeApiServer {
  url: string;
  kubeConfig(): KubeConfig;
  close(): Promise<void>;
}

/** A KubeConfig for a server without credentials (plain HTTP, or TLS not verified). */
export function kubeConfigFor(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server, skipTLSVerify: true }],
    users: [{ name: 'nobody' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'nobody' }],
    currentContext: 'fake',
  });
  return kc;
}

export async function fakeApiServer(
  handle: (req: IncomingMessage, res: ServerResponse, url: URL) => void,
): Promise<FakeApiServer> {
  const server = http.createServer((req, res) => handle(req, res, new URL(req.url ?? '/', 'http://x')));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    kubeConfig: () => kubeConfigFor(url),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
