// One HTTPS request to a server of ours with its CA: GET, or POST of a JSON body; the status and text.
import https from 'node:https';

export function httpsRequest(
  url: string,
  ca: string,
  body?: unknown,
  opts: { agent?: false } = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      url,
      {
        ca,
        method: data ? 'POST' : 'GET',
        ...(opts.agent === false ? { agent: false } : {}),
        headers: data ? { 'content-type': 'application/json' } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}
