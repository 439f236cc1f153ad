// HTTPS requests to a server of ours with its CA: a JSON GET/POST (httpsRequest) or any bytes with any
// content type through a given keep-alive agent (postRaw, for the webhook fuzz and fault tests).
import type { IncomingMessage } from 'node:http';
import https from 'node:https';

interface SendOptions {
  ca: string;
  method: 'GET' | 'POST';
  body?: string;
  contentType?: string;
  agent?: https.Agent | false;
  timeoutMs?: number;
}

/** `target`: a URL, or a port on 127.0.0.1 and a path sent exactly as given (the fuzz tests' hostile paths). */
function send(
  target: string | { port: number; path: string },
  o: SendOptions,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = o.body === undefined ? undefined : Buffer.from(o.body, 'utf8');
    const options: https.RequestOptions = {
      ...(typeof target === 'string' ? {} : { host: '127.0.0.1', port: target.port, path: target.path }),
      ca: o.ca,
      method: o.method,
      ...(o.agent !== undefined ? { agent: o.agent } : {}),
      ...(o.timeoutMs !== undefined ? { timeout: o.timeoutMs } : {}),
      headers: data ? { 'content-type': o.contentType ?? 'application/json', 'content-length': data.length } : {},
    };
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    };
    const req =
      typeof target === 'string' ? https.request(target, options, onResponse) : https.request(options, onResponse);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(data);
  });
}

/** GET `url`, or POST `body` as JSON; `agent: false` for a connection of its own. */
export function httpsRequest(
  url: string,
  ca: string,
  body?: unknown,
  opts: { agent?: false } = {},
): Promise<{ status: number; text: string }> {
  return send(url, {
    ca,
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(opts.agent === false ? { agent: false } : {}),
  });
}

/** POSTs `text` as is (any bytes, any content type) to 127.0.0.1:`port` at path `p` through `agent`; 30 s timeout. */
export function postRaw(
  agent: https.Agent,
  p: string,
  text: string,
  opts: { port: number; ca: string; contentType?: string },
): Promise<{ status: number; text: string }> {
  return send(
    { port: opts.port, path: p },
    {
      ca: opts.ca,
      method: 'POST',
      body: text,
      ...(opts.contentType !== undefined ? { contentType: opts.contentType } : {}),
      agent,
      timeoutMs: 30_000,
    },
  );
}
