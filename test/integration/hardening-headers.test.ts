// Headers and origins (issue 9, finding 9), against the real server with the production web build:
// Socket.IO refuses connections from pages of other origins (same origin, ALLOWED_ORIGINS and
// clients that send no Origin are accepted); every response carries nosniff and a
// Referrer-Policy, HSTS behind HTTPS; pages run only scripts that carry the request's nonce.
import { request } from 'node:http';
import { io } from 'socket.io-client';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRoomId } from '../../lib/canvas/roomId';
import { startServer, type TestServer } from '../helpers/server';
import { createSharedRoom, launchBrowser, openRoom } from '../e2e/browser';

const ALLOWED = 'https://canvas.example.org';
let server: TestServer;

beforeAll(async () => {
  server = await startServer({ web: true, env: { ALLOWED_ORIGINS: `${ALLOWED}, https://other.example.org` } });
});
afterAll(async () => {
  await server?.stop();
});

/** A plain HTTP GET with exactly these headers (fetch may not send Origin as given). */
function get(path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = request(`${server.url}${path}`, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Whether a Socket.IO client (WebSocket only) sending `origin` gets connected. */
function socketConnects(origin?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = io(server.url, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      ...(origin && { extraHeaders: { origin } }),
    });
    const done = (ok: boolean) => {
      socket.close();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('connect_error', () => done(false));
  });
}

describe('origins', () => {
  it('Socket.IO refuses pages of other origins; same origin, ALLOWED_ORIGINS and no Origin are accepted', async () => {
    const handshake = '/socket.io/?EIO=4&transport=polling';
    expect((await get(handshake, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await get(handshake, { origin: `http://127.0.0.1:${server.port}.evil.example` })).status).toBe(403);
    expect((await get(handshake, { origin: 'null' })).status).toBe(403);
    expect((await get(handshake, { origin: `http://127.0.0.1:${server.port}` })).status).toBe(200);
    expect((await get(handshake, { origin: ALLOWED })).status).toBe(200);
    expect((await get(handshake, { origin: 'https://other.example.org' })).status).toBe(200);
    expect((await get(handshake)).status).toBe(200);

    expect(await socketConnects('http://evil.example')).toBe(false);
    expect(await socketConnects(`http://localhost:${server.port + 1}`)).toBe(false);
    expect(await socketConnects(`http://127.0.0.1:${server.port}`)).toBe(true);
    expect(await socketConnects(ALLOWED)).toBe(true);
    expect(await socketConnects()).toBe(true);
  });
});

describe('response headers', () => {
  it('nosniff and a Referrer-Policy on every response: pages, API routes, static files, 404s, /healthz, Socket.IO', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    const chunk = /<script[^>]+src="(\/_next\/static\/[^"]+\.js)"/.exec(page.body)?.[1];
    expect(chunk, 'a static chunk in the page').toBeDefined();
    const paths = [
      '/',
      `/r/${newRoomId()}`,
      '/no/such/page',
      '/healthz',
      '/api/uploads/nope',
      chunk!,
      '/tldraw-assets/fonts/IBMPlexSans-Bold.woff2',
      '/socket.io/?EIO=4&transport=polling',
    ];
    for (const path of paths) {
      const r = await get(path);
      expect(r.headers['x-content-type-options'], path).toBe('nosniff');
      expect(r.headers['referrer-policy'], path).toMatch(/^(no-referrer|same-origin)$/);
      expect(r.headers['strict-transport-security'], `${path}: no HSTS over plain HTTP`).toBeUndefined();
    }
    for (const path of ['/', '/healthz', chunk!]) {
      const r = await get(path, { 'x-forwarded-proto': 'https' });
      expect(r.headers['strict-transport-security'], path).toMatch(/max-age=\d{6,}/);
    }
  });

  it("pages allow only scripts with the request's nonce (no 'unsafe-inline' in script-src)", async () => {
    const nonces: string[] = [];
    for (const path of ['/', `/r/${newRoomId()}`, '/no/such/page']) {
      const r = await get(path);
      const csp = String(r.headers['content-security-policy']);
      const scriptSrc = csp.split(';').map((d) => d.trim()).find((d) => d.startsWith('script-src'));
      expect(scriptSrc, path).toBeDefined();
      expect(scriptSrc, path).not.toContain("'unsafe-inline'");
      const nonce = /'nonce-([A-Za-z0-9+/=_-]+)'/.exec(scriptSrc!)?.[1];
      expect(nonce, path).toBeDefined();
      const scripts = r.body.match(/<script\b[^>]*>/g) ?? [];
      expect(scripts.length, path).toBeGreaterThan(0);
      for (const tag of scripts) expect(tag, path).toContain(`nonce="${nonce}"`);
      nonces.push(nonce!);
    }
    expect(new Set(nonces).size, 'a fresh nonce per response').toBe(nonces.length);
    // A nonce a client sends in its own request headers is never used.
    const forged = await get('/', { 'content-security-policy': "script-src 'nonce-forged'" });
    expect(String(forged.headers['content-security-policy'])).not.toContain('forged');
    expect(forged.body).not.toContain('nonce="forged"');
  });

  it('the room page works in a browser under that policy, without a single violation', async () => {
    let browser: Browser | undefined;
    try {
      browser = await launchBrowser();
      const { links } = await createSharedRoom(server.url);
      const room = await openRoom(browser, server.url, links.editor, { participant: { id: 'csp', name: 'Csp', color: '#3366cc' } });
      const violations = await room.page.evaluate(
        () =>
          new Promise<number>((resolve) => {
            let n = 0;
            document.addEventListener('securitypolicyviolation', () => n++);
            setTimeout(() => resolve(n), 500);
          }),
      );
      expect(violations).toBe(0);
      expect(room.errors.filter((e) => /Content Security Policy|Refused to/.test(e))).toEqual([]);
      await room.context.close();
    } finally {
      await browser?.close();
    }
  }, 90_000);
});
