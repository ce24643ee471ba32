// Headers on every response of the one server process — pages, static files, API routes, /healthz
// and Socket.IO's own answers — set before anyone else writes a response (the listener runs
// first on the HTTP server; later writeHead calls add to these or override them, e.g. the
// sandbox policy of served uploads). See docs/security.md "Headers and origins".
//
// The page policy allows scripts of our own origin and inline scripts carrying this response's
// nonce only: no 'unsafe-inline'. Next (app router) reads the nonce from the request's
// Content-Security-Policy header — set here on the request too, replacing whatever the client
// sent — and puts it on every script it renders; pages are rendered per request for that
// (app/layout.tsx). Styles keep 'unsafe-inline' (tldraw sets inline styles). The page may talk to
// its own origin only (the product makes no request to another host; tldraw would otherwise reach
// its CDN, e.g. the licence check's tracking call). Uploaded images are same-origin URLs;
// data:/blob: are tldraw's previews, exports and fonts; `next dev` also needs eval (React Refresh).
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface SecurityHeadersOptions {
  /** Next dev mode needs eval (React Refresh) */
  dev: boolean;
  /** Strict-Transport-Security max-age on HTTPS requests; 0 = none */
  hstsMaxAgeS: number;
}

/** The Content-Security-Policy of a response whose inline scripts carry `nonce`. */
export function contentSecurityPolicy(nonce: string, dev: boolean): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}'${dev ? " 'unsafe-eval'" : ''}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self' data: blob:",
    "media-src 'self' data: blob:",
    "worker-src 'self' blob:",
    "frame-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
  ].join('; ');
}

/** Whether the request reached us over HTTPS: a TLS socket, or a proxy that says so. Browsers
 * ignore HSTS received over plain HTTP, so a forged X-Forwarded-Proto gains nothing. */
export function isHttps(req: IncomingMessage): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  const proto = req.headers['x-forwarded-proto'];
  const firstProto = (Array.isArray(proto) ? proto[0] : proto)?.split(',')[0]?.trim().toLowerCase();
  return firstProto === 'https';
}

/** The `request` listener that sets the headers (prepend it: it must run before any handler). */
export function securityHeaders(opts: SecurityHeadersOptions) {
  const hsts = opts.hstsMaxAgeS > 0 ? `max-age=${opts.hstsMaxAgeS}` : null;
  return (req: IncomingMessage, res: ServerResponse): void => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // Room links are capabilities: never leak one in a Referer.
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (hsts && isHttps(req)) res.setHeader('Strict-Transport-Security', hsts);
    const nonce = randomBytes(16).toString('base64');
    const csp = contentSecurityPolicy(nonce, opts.dev);
    res.setHeader('Content-Security-Policy', csp);
    // What Next reads the nonce from (never a client's own value).
    req.headers['content-security-policy'] = csp;
    delete req.headers['content-security-policy-report-only'];
    req.headers['x-nonce'] = nonce;
  };
}
