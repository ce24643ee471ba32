// The address a request comes from, for per-client limits. Behind a reverse proxy (TRUST_PROXY=1)
// every connection comes from the proxy, so the client is the right-most X-Forwarded-For entry —
// the one our proxy appended; entries left of it are whatever the client claimed. One proxy hop
// is assumed. Without TRUST_PROXY the header is ignored: anyone can send it.
import type { IncomingMessage } from 'node:http';

export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const xff = req.headers['x-forwarded-for'];
    const list = (Array.isArray(xff) ? xff.join(',') : (xff ?? '')).split(',').map((s) => s.trim()).filter(Boolean);
    const last = list.at(-1);
    if (last) return normalizeAddress(last);
  }
  return normalizeAddress(req.socket.remoteAddress ?? 'unknown');
}

/** `::ffff:1.2.3.4` and `1.2.3.4` are one client. */
function normalizeAddress(a: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return (v4 ? v4[1]! : a).toLowerCase().slice(0, 64);
}
