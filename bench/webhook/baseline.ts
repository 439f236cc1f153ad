// The baseline: a bare express HTTPS server on the same machine that reads the POSTed body and answers
// a fixed JSON body of the same size as the controller's answer to that path. Nothing else: no
// parsing, no decision, no logging, no metrics — the floor that TLS + HTTP + express cost.
// argv: CONFIG_JSON = { port, cert, key, responses: { "/mutate-pods": file, … } }; prints "listening PORT".
import express from 'express';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

interface Config {
  port: number;
  cert: string;
  key: string;
  responses: Record<string, string>;
}

const c = JSON.parse(process.argv[2] ?? '{}') as Config;
const app = express();
app.disable('x-powered-by');
const raw = express.raw({ type: () => true, limit: 3 * 1024 * 1024 });
for (const [route, file] of Object.entries(c.responses)) {
  const body = readFileSync(file);
  app.post(route, raw, (_req, res) => {
    res.status(200).type('application/json').send(body);
  });
}
const server = https.createServer({ cert: readFileSync(c.cert), key: readFileSync(c.key), minVersion: 'TLSv1.2' }, app);
server.listen(c.port, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
