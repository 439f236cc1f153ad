// A serving certificate handed in by code rather than read from files: the self-managed certificates
// (webhook/certs/) read the serving Secret through the API and set each new pair here; the webhook and
// metrics servers subscribe, as they do to the file watcher. A pair is checked before it is taken (the
// last good one stays when a new one does not parse or its key does not match).
import { checkPair, type CertPair } from './certwatcher.js';

export class CertSource {
  private pair: CertPair | undefined;
  private readonly listeners = new Set<(pair: CertPair) => void>();
  private waiters: ((pair: CertPair) => void)[] = [];

  current(): CertPair | undefined {
    return this.pair;
  }

  /** Resolves with the current pair, or the first one set. */
  ready(): Promise<CertPair> {
    if (this.pair) return Promise.resolve(this.pair);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Takes a new pair (unchanged bytes: nothing happens); throws CertificateError when it is unusable. */
  set(pair: CertPair): boolean {
    if (this.pair && this.pair.cert.equals(pair.cert) && this.pair.key.equals(pair.key)) return false;
    checkPair(pair);
    this.pair = pair;
    for (const w of this.waiters.splice(0)) w(pair);
    for (const l of this.listeners) l(pair);
    return true;
  }

  /** Calls `fn` with every later pair; returns the unsubscribe. */
  subscribe(fn: (pair: CertPair) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
