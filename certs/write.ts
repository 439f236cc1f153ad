// Writes a WebhookCerts set to a folder, with the file names cert-manager uses in its Secrets
// (tls.crt, tls.key, ca.crt), so the controller reads the same paths either way.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic as writeAtomic } from '../lib/fs.js';
import type { WebhookCerts } from './selfsigned.js';

const CERT_FILE = 'tls.crt';
const KEY_FILE = 'tls.key';
const CA_FILE = 'ca.crt';
const CA_KEY_FILE = 'ca.key';

export async function writeCerts(
  dir: string,
  c: WebhookCerts,
  opts: { withCaKey?: boolean } = {},
): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files: Record<string, string> = {
    cert: path.join(dir, CERT_FILE),
    key: path.join(dir, KEY_FILE),
    ca: path.join(dir, CA_FILE),
  };
  // The key goes last and the cert first is not enough for a watcher: write key, then cert, so a
  // reader that reloads on the cert's change sees a matching pair.
  await writeAtomic(files.key!, c.serving.key, 0o600);
  await writeAtomic(files.cert!, c.serving.cert, 0o644);
  await writeAtomic(files.ca!, c.ca.cert, 0o644);
  if (opts.withCaKey) {
    files.caKey = path.join(dir, CA_KEY_FILE);
    await writeAtomic(files.caKey, c.ca.key, 0o600);
  }
  return files;
}
