// socat-relay certs --out DIR: a CA and a serving certificate for the webhook Service (plus
// localhost/127.0.0.1 unless --no-local), written as tls.crt/tls.key/ca.crt; prints the caBundle
// (base64 of the CA) for the webhook configurations' clientConfig.caBundle.
import { parseArgs } from 'node:util';
import { makeWebhookCerts } from '../certs/selfsigned.js';
import { writeCerts } from '../certs/write.js';
import type { CommandIO } from './io.js';

const USAGE = `usage: socat-relay certs --out DIR [--service NAME] [--namespace NS] [--host H …] [--no-local] [--days N] [--ca-key]
  --out DIR        folder for tls.crt, tls.key, ca.crt (created, mode 0700)
  --service NAME   webhook Service name (default socat-relay-webhook)
  --namespace NS   its namespace (default socat-relay-system)
  --host H         an extra DNS name or IP for the certificate (repeatable)
  --no-local       leave out localhost, 127.0.0.1 and ::1
  --days N         validity of the serving certificate (default 365)
  --ca-key         also write ca.key (to sign more certificates later; keep it safe)
Prints the caBundle (base64 of ca.crt) on stdout.
`;

export async function run(args: string[], io: CommandIO): Promise<number> {
  let v;
  try {
    v = parseArgs({
      args,
      options: {
        out: { type: 'string', short: 'o' },
        service: { type: 'string', default: 'socat-relay-webhook' },
        namespace: { type: 'string', short: 'n', default: 'socat-relay-system' },
        host: { type: 'string', multiple: true, default: [] },
        'no-local': { type: 'boolean', default: false },
        days: { type: 'string', default: '365' },
        'ca-key': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    io.stderr.write(`certs: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (v.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const days = Number(v.days);
  if (!v.out) {
    io.stderr.write(`certs: --out DIR is required\n${USAGE}`);
    return 2;
  }
  if (!Number.isInteger(days) || days < 1 || days > 3650) {
    io.stderr.write(`certs: --days must be an integer from 1 to 3650, got ${v.days}\n`);
    return 2;
  }
  const local = v['no-local'] ? [] : ['localhost', '127.0.0.1', '::1'];
  const certs = await makeWebhookCerts({
    service: v.service,
    namespace: v.namespace,
    extraHosts: [...local, ...(v.host ?? [])],
    days,
  });
  const files = await writeCerts(v.out, certs, { withCaKey: v['ca-key'] });
  io.stderr.write(`certs: wrote ${Object.values(files).join(', ')}\n`);
  io.stdout.write(`${certs.caBundle}\n`);
  return 0;
}
