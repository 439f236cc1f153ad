// A thin REST client over the KubeConfig's TLS settings: what `kubectl` does, with the HTTP status and
// the API server's Status message kept intact (tests assert on admission denials word for word).
// Server-side apply, dry-run and subresources are plain query parameters here.
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** A non-2xx answer; `message` is the API server's Status.message (admission denials land there). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  /** Accept header (default application/json; `application/json;as=Table;v=v1;g=meta.k8s.io` for kubectl's tables). */
  accept?: string;
  query?: Record<string, string | undefined>;
}

export interface WriteOptions {
  dryRun?: boolean;
  fieldManager?: string;
}

interface ApiResource {
  name: string;
  namespaced: boolean;
  kind: string;
}

export class KubeClient {
  constructor(readonly kc: KubeConfig) {}

  get server(): string {
    const c = this.kc.getCurrentCluster();
    if (!c) throw new Error('kubeconfig has no current cluster');
    return c.server.replace(/\/$/, '');
  }

  /** Any request; resolves with the status and the parsed body, whatever the status. */
  async raw(
    method: string,
    path: string,
    opts: RequestOptions = {},
  ): Promise<{ status: number; body: unknown; headers: Record<string, string | string[] | undefined> }> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const payload =
      opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const reqOpts: https.RequestOptions = {
      method,
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      headers: {
        accept: opts.accept ?? 'application/json',
        ...(payload !== undefined
          ? { 'content-type': opts.contentType ?? 'application/json', 'content-length': Buffer.byteLength(payload) }
          : {}),
      },
    };
    await this.kc.applyToHTTPSOptions(reqOpts);
    return new Promise((resolve, reject) => {
      const req = https.request(reqOpts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON (e.g. /readyz): keep the text
          }
          resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
        });
        res.on('error', reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** Like raw(), but a non-2xx status throws ApiError. */
  async request<T = any>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.raw(method, path, opts);
    if (res.status < 200 || res.status > 299) {
      const b = res.body as { message?: string; reason?: string } | string | undefined;
      const message =
        typeof b === 'object' && b?.message
          ? b.message
          : `${method} ${path}: HTTP ${res.status} ${typeof b === 'string' ? b : ''}`.trim();
      throw new ApiError(res.status, typeof b === 'object' ? (b?.reason ?? '') : '', message, res.body);
    }
    return res.body as T;
  }

  private async resource(apiVersion: string, kind: string): Promise<ApiResource> {
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const list = await this.request<{ resources: ApiResource[] }>('GET', base);
    const r = list.resources.find((x) => x.kind === kind && !x.name.includes('/'));
    if (!r) throw new Error(`the API server does not serve ${kind} in ${apiVersion}`);
    return r;
  }

  /** The REST path of an object (or of its collection when `name` is omitted). */
  async pathOf(apiVersion: string, kind: string, namespace?: string, name?: string): Promise<string> {
    const r = await this.resource(apiVersion, kind);
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const ns = r.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? 'default')}` : '';
    return `${base}${ns}/${r.name}${name ? `/${encodeURIComponent(name)}` : ''}`;
  }

  async create<T extends KubeObject>(obj: T, opts: WriteOptions = {}): Promise<T> {
    const p = await this.pathOf(obj.apiVersion, obj.kind, obj.metadata.namespace);
    return this.request<T>('POST', p, {
      body: obj,
      query: { dryRun: opts.dryRun ? 'All' : undefined, fieldManager: opts.fieldManager },
    });
  }

  /** Server-side apply (`kubectl apply --server-side --force-conflicts`). */
  async apply<T extends KubeObject>(
    obj: T,
    opts: WriteOptions & { force?: boolean; subresource?: 'status' } = {},
  ): Promise<T> {
    const p = await this.pathOf(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
    return this.request<T>('PATCH', opts.subresource ? `${p}/${opts.subresource}` : p, {
      body: obj,
      contentType: 'application/apply-patch+yaml',
      query: {
        fieldManager: opts.fieldManager ?? 'socat-relay-test',
        force: opts.force === false ? undefined : 'true',
        dryRun: opts.dryRun ? 'All' : undefined,
      },
    });
  }

  async get<T = any>(apiVersion: string, kind: string, name: string, namespace?: string): Promise<T> {
    return this.request<T>('GET', await this.pathOf(apiVersion, kind, namespace, name));
  }

  /** The object, or undefined when it does not exist. */
  async getOrUndefined<T = any>(
    apiVersion: string,
    kind: string,
    name: string,
    namespace?: string,
  ): Promise<T | undefined> {
    try {
      return await this.get<T>(apiVersion, kind, name, namespace);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async list<T = any>(
    apiVersion: string,
    kind: string,
    namespace?: string,
    query: Record<string, string> = {},
  ): Promise<T[]> {
    const res = await this.request<{ items: T[] }>('GET', await this.pathOf(apiVersion, kind, namespace), { query });
    return res.items;
  }

  /** Deletes; a missing object is not an error. */
  async delete(apiVersion: string, kind: string, name: string, namespace?: string): Promise<void> {
    try {
      await this.request('DELETE', await this.pathOf(apiVersion, kind, namespace, name));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
  }
}
