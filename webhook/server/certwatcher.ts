// Serving certificate from files, reloaded without a restart (cert-manager rotation), the way
// controller-runtime's certwatcher does it: watch the folder (Secret volumes swap a symlink) and poll,
// compare bytes, and keep the last good pair when the new one does not parse or does not match.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile as fsReadFile } from 'node:fs/promises';
import path from 'node:path';
import { FolderWatch } from '../../lib/folder-watch.js';
import type { Logger } from '../../lib/log.js';

export interface CertPair {
  cert: Buffer;
  key: Buffer;
}

export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateError';
  }
}

/** Parses the pair and checks that the key belongs to the certificate; throws CertificateError. */
export function checkPair(p: CertPair): { fingerprint256: string; validTo: string } {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(p.cert);
  } catch (e) {
    throw new CertificateError(`certificate does not parse: ${(e as Error).message}`);
  }
  let key;
  try {
    key = createPrivateKey(p.key);
  } catch (e) {
    throw new CertificateError(`private key does not parse: ${(e as Error).message}`);
  }
  if (!x509.checkPrivateKey(key)) throw new CertificateError('private key does not match the certificate');
  return { fingerprint256: x509.fingerprint256, validTo: x509.validTo };
}

interface CertWatcherOptions {
  certFile: string;
  keyFile: string;
  /** Poll period (default 10 s); the folder watch usually reacts first. */
  pollMs?: number;
  log: Logger;
  /** Called with each new good pair. */
  onChange: (pair: CertPair) => void;
  /** Called when a changed pair was rejected (the last good one stays). */
  onReject?: (err: CertificateError) => void;
  readFile?: (file: string) => Promise<Buffer>;
}

class CertWatcher {
  private pair: CertPair | undefined;
  private rejected: CertPair | undefined;
  private watches: FolderWatch[] = [];
  private reading: Promise<void> | undefined;
  private readonly readFile: (file: string) => Promise<Buffer>;

  constructor(private readonly o: CertWatcherOptions) {
    this.readFile = o.readFile ?? ((f) => fsReadFile(f));
  }

  /** Reads and checks the pair once; throws when the first pair is unusable (fatal at start). */
  async load(): Promise<CertPair> {
    const pair = { cert: await this.readFile(this.o.certFile), key: await this.readFile(this.o.keyFile) };
    const info = checkPair(pair);
    this.pair = pair;
    this.o.log.info({ certFile: this.o.certFile, ...info }, 'serving certificate loaded');
    return pair;
  }

  current(): CertPair | undefined {
    return this.pair;
  }

  start(): void {
    const dirs = new Set([path.dirname(this.o.certFile), path.dirname(this.o.keyFile)]);
    for (const dir of dirs) {
      this.watches.push(
        new FolderWatch({
          dir,
          onChange: () => void this.check(),
          debounceMs: 50,
          tickMs: this.o.pollMs ?? 10_000,
          poll: true,
          log: this.o.log,
        }).start(),
      );
    }
  }

  stop(): void {
    for (const w of this.watches) w.close();
    this.watches = [];
  }

  /** Re-reads now; resolves when done (tests, and the poll). */
  async check(): Promise<void> {
    while (this.reading) await this.reading;
    this.reading = this.reload().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private async reload(): Promise<void> {
    let pair: CertPair;
    try {
      pair = { cert: await this.readFile(this.o.certFile), key: await this.readFile(this.o.keyFile) };
    } catch (err) {
      this.o.log.warn({ err }, 'cannot read the certificate files; keeping the last good pair');
      return;
    }
    const same = (a: CertPair | undefined): boolean => !!a && pair.cert.equals(a.cert) && pair.key.equals(a.key);
    if (same(this.pair) || same(this.rejected)) return; // unchanged, or already rejected once
    try {
      const info = checkPair(pair);
      this.pair = pair;
      this.o.log.info({ certFile: this.o.certFile, ...info }, 'serving certificate reloaded');
      this.o.onChange(pair);
    } catch (err) {
      if (!(err instanceof CertificateError)) throw err;
      this.rejected = pair;
      this.o.log.warn({ err: err.message }, 'new certificate rejected; keeping the last good pair');
      this.o.onReject?.(err);
    }
  }
}

/** Where a server's certificate comes from: files (watched) or a CertSource (self-managed certificates). */
export interface ServingCerts {
  /** The first pair (files: read now, fatal when unusable; a source: waits for the first). */
  load(): Promise<CertPair>;
  current(): CertPair | undefined;
  start(): void;
  stop(): void;
  /** Files: re-read now. */
  check?(): Promise<void>;
}

interface CertSourceLike {
  current(): CertPair | undefined;
  ready(): Promise<CertPair>;
  subscribe(fn: (p: CertPair) => void): () => void;
}

/** A server's ServingCerts: the CertSource when given, else a CertWatcher over the files. */
export function servingCerts(
  o: { certFile?: string; keyFile?: string; certPollMs?: number; log: Logger },
  source: CertSourceLike | undefined,
  onChange: (pair: CertPair) => void,
  onReject?: (err: CertificateError) => void,
): ServingCerts {
  if (source) {
    let unsubscribe: (() => void) | undefined;
    return {
      load: () => source.ready(),
      current: () => source.current(),
      start: () => {
        unsubscribe ??= source.subscribe(onChange);
      },
      stop: () => {
        unsubscribe?.();
        unsubscribe = undefined;
      },
    };
  }
  if (!o.certFile || !o.keyFile) throw new Error('a server needs certFile and keyFile, or a certificate source');
  return new CertWatcher({
    certFile: o.certFile,
    keyFile: o.keyFile,
    ...(o.certPollMs !== undefined ? { pollMs: o.certPollMs } : {}),
    log: o.log,
    onChange,
    ...(onReject ? { onReject } : {}),
  });
}
