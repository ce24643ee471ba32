import type { ServerResponse } from 'node:http';

/** A JSON answer of the feature routes: never cached (it describes live state or an error);
 * `headers` adds e.g. `allow` to a 405. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}
