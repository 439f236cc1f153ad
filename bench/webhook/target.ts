// The controller's webhook server without the CLI: what `socat-relay controller --relays FILE` runs in
// local mode (StaticCatalog from the file, WebhookServer, metrics with process metrics, info logs to
// stdout). Used when the controller command is not available in this checkout.
// argv: CONFIG_JSON = { port, cert, key, relays, socketDir }; prints "listening PORT".
import { readFile } from 'node:fs/promises';
import { createLogger } from '../../lib/log.js';
import { parseDocuments, type Relay } from '../../relay/index.js';
import { defaultInjectOptions } from '../../webhook/admission/index.js';
import { StaticCatalog } from '../../webhook/catalog/catalog.js';
import { createMetrics } from '../../webhook/metrics.js';
import { WebhookServer } from '../../webhook/server/server.js';

interface Config {
  port: number;
  cert: string;
  key: string;
  relays: string;
  socketDir: string;
  sidecarImage: string;
}

const c = JSON.parse(process.argv[2] ?? '{}') as Config;
const catalog = new StaticCatalog(parseDocuments(await readFile(c.relays, 'utf8'), c.relays) as Relay[]);
const server = new WebhookServer({
  port: c.port,
  host: '127.0.0.1',
  certFile: c.cert,
  keyFile: c.key,
  metrics: createMetrics({ defaultMetrics: true }),
  log: createLogger({ name: 'socat-relay-controller' }),
  catalog,
  namespaceLabels: (ns) => ({ 'kubernetes.io/metadata.name': ns }),
  injectOptions: () =>
    defaultInjectOptions({ sidecarImage: c.sidecarImage, mode: 'native', nodeSocketDir: c.socketDir }),
});
const addr = await server.start();
process.stderr.write(`listening ${addr.port}\n`);
process.on('SIGTERM', () => {
  server.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
