// Which web pages may open a Socket.IO connection: pages of the server's own origin (the Host the
// request was sent to) and those listed in ALLOWED_ORIGINS. A browser always sends `Origin` with a
// WebSocket and with a cross-origin request, so without this check any page a person visits could
// drive an instance on their intranet or their own machine with their network position. Requests
// without an Origin header come from non-browser clients (scripts, tests, the bench), which no web
// page can make, and stay allowed. See docs/security.md "Headers and origins".
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../logger';

/** `scheme://host[:port]` as a browser sends it in Origin (lower case, no default port), or null
 * when `value` is not such an origin (a path, credentials, 'null', garbage). */
export function normalizeOrigin(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) return null;
  return `${url.protocol}//${url.host}`;
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim();

/** Whether a request carrying `Origin: origin` comes from a page we serve or trust. */
export function isAllowedOrigin(req: IncomingMessage, origin: string, allowed: readonly string[], trustProxy: boolean): boolean {
  const normalized = normalizeOrigin(origin);
  if (normalized === null) return false;
  if (allowed.includes(normalized)) return true;
  const url = new URL(normalized);
  const hosts = [req.headers.host, ...(trustProxy ? [first(req.headers['x-forwarded-host'])] : [])];
  return hosts.some((h) => h !== undefined && h !== '' && sameHost(url, h));
}

/** The Host header names the origin's host (with the origin's scheme's default port implied). */
function sameHost(origin: URL, host: string): boolean {
  try {
    return new URL(`${origin.protocol}//${host}`).host === origin.host;
  } catch {
    return false;
  }
}

/** Socket.IO's `allowRequest`: refuse handshakes from pages of other origins (403). */
export function socketOriginCheck(opts: { allowedOrigins: readonly string[]; trustProxy: boolean }, logger: Logger) {
  const log = logger.child({ module: 'origins' });
  const reported = new Set<string>();
  return (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void): void => {
    const origin = req.headers.origin;
    if (origin === undefined || isAllowedOrigin(req, origin, opts.allowedOrigins, opts.trustProxy)) {
      callback(null, true);
      return;
    }
    // Once per origin (a hostile page may retry forever), and never more than 100 of them.
    const key = origin.slice(0, 200);
    if (!reported.has(key) && reported.size < 100) {
      reported.add(key);
      log.warn({ origin: key, host: req.headers.host, address: req.socket.remoteAddress }, 'refused a Socket.IO connection from a page of another origin (add it to ALLOWED_ORIGINS if it is yours)');
    }
    callback(`origin ${key} is not allowed to connect; the server accepts its own origin and ALLOWED_ORIGINS`, false);
  };
}
