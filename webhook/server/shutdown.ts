// Graceful shutdown, the order Kubernetes needs: on SIGTERM readiness fails at once (/readyz 503, so
// the endpoints and the API server's webhook client stop choosing this replica), the servers keep
// answering for a drain period (requests already routed here, and those sent before the endpoint
// removal has reached every node), then they close.
export interface Readiness {
  ok: boolean;
  reason?: string;
}

export class Drain {
  private started: number | undefined;
  constructor(private readonly now: () => number = Date.now) {}

  get draining(): boolean {
    return this.started !== undefined;
  }

  begin(): void {
    this.started ??= this.now();
  }

  /** `inner`'s readiness, or not ready ("shutting down") once the drain began. */
  readiness(inner?: () => Readiness): () => Readiness {
    return () => (this.draining ? { ok: false, reason: 'shutting down' } : (inner?.() ?? { ok: true }));
  }
}

export interface ShutdownOptions {
  drain: Drain;
  drainMs: number;
  /** Closes the servers and everything else. */
  stop: () => Promise<void>;
  log: { info(o: object, msg: string): void };
  delay?: (ms: number) => Promise<void>;
}

/** Readiness fails → drainMs of service → stop. */
export async function gracefulShutdown(o: ShutdownOptions): Promise<void> {
  o.drain.begin();
  o.log.info({ drainMs: o.drainMs }, 'shutting down: readiness fails, still serving during the drain period');
  await (o.delay ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms))))(o.drainMs);
  o.log.info({}, 'drain period over: closing');
  await o.stop();
}
