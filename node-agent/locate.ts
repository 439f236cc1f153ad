// Finding socat on PATH, with an error that says how to get it.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

export class SocatNotFoundError extends Error {
  constructor(readonly searched: string) {
    super(
      `socat not found on PATH (${searched || 'empty'}): install it with 'apt-get install socat' (Debian/Ubuntu; 'apk add socat', 'dnf install socat' elsewhere) or run the agent from the image ghcr.io/socat-relay/socat-relay:0.1.0, which includes it`,
    );
    this.name = 'SocatNotFoundError';
  }
}

/** The absolute path of the first executable `name` on `PATH`; throws SocatNotFoundError. */
/** The absolute path of `name` on PATH, or undefined (for optional helpers such as setpriv). */
export function findOnPath(pathEnv: string | undefined, name: string): string | undefined {
  try {
    return findSocat(pathEnv, name);
  } catch {
    return undefined;
  }
}

export function findSocat(pathEnv: string | undefined, name = 'socat'): string {
  const dirs = (pathEnv ?? '').split(path.delimiter).filter((d) => d !== '');
  for (const d of dirs) {
    const p = path.resolve(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  throw new SocatNotFoundError(pathEnv ?? '');
}
