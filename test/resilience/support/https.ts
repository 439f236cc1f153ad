// A raw HTTPS POST (any bytes, any content type) through a given agent, for the webhook tests.
import https from 'node:https';

export function postRaw(
  agent: https.Agent,
  p: string,
  text: string,
  opts: { port: number; ca: string; contentType?: string },
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(text, 'utf8');
    const req = https.request(
      {
        host: '127.0.0.1',
        port: opts.port,
        path: p,
        method: 'POST',
        ca: opts.ca,
        agent,
        timeout: 30_000,
        headers: { 'content-type': opts.contentType ?? 'application/json', 'content-length': data.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(data);
  });
}
