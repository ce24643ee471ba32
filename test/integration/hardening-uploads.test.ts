// Uploads (issue 9, finding 8), against the real server process: only someone in the room may
// upload to it; bodies stream to a temporary file (never held in memory) with a size cap;
// concurrent uploads are limited per client address and server-wide; the room's quota is reserved
// before a body is accepted (and released when it fails); slow bodies are cut off.
import { readdirSync, statSync } from 'node:fs';
import { get as httpGet, request, type ClientRequest } from 'node:http';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { UPLOADS_PATH } from '../../lib/protocol/uploads';
import { roomCookie, roomFetch } from '../helpers/roomHttp';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, until, type Peer } from '../helpers/yclient';

/** The header carrying the id of the uploader's Socket.IO socket (lib/protocol/uploads.ts). */
const SOCKET_HEADER = 'x-livecanvas-socket';
/** Where bodies are written while they arrive (server/uploads). */
const TMP_DIR = 'upload-tmp';

const servers: TestServer[] = [];
const peers: Peer[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) p.close();
  for (const s of servers.splice(0)) await s.stop('SIGKILL');
});

async function setup(env: Record<string, string> = {}) {
  const server = await startServer({ env });
  servers.push(server);
  const roomId = await createRoom(server.url);
  const peer = await connectPeer(server.url, roomId);
  peers.push(peer);
  return { server, roomId, peer, socketId: peer.socket.id! };
}

/** A PNG of random pixels: about 3 bytes per pixel, never the same twice. */
const noisePng = (width: number, height: number) => {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(Math.random() * 256);
  return sharp(raw, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
};

interface Answer {
  status: number;
  body: { error?: string; id?: string };
  headers: Record<string, string | string[] | undefined>;
  at: number;
}

/** An upload whose body the test writes piece by piece. */
function openUpload(url: string, roomId: string, headers: Record<string, string | number>) {
  const req = request(`${url}${UPLOADS_PATH}/${roomId}`, { method: 'POST', headers: { 'content-type': 'image/png', ...headers } });
  let settled = false;
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        settled = true;
        let body = {};
        try {
          body = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode!, body, headers: res.headers, at: Date.now() });
      });
    });
    // A server that answered and closed makes the rest of our writes fail: that is fine.
    req.on('error', (e) => settled || reject(e));
  });
  answer.catch(() => undefined); // an upload the test abandons (or a server it stops) is no error
  req.flushHeaders();
  return {
    answer,
    write: (b: Uint8Array) => new Promise<void>((r) => (req.destroyed ? r() : req.write(b, () => r()))),
    end: (b?: Uint8Array) => req.end(b),
    abort: () => req.destroy(),
  };
}

const post = (url: string, roomId: string, body: Uint8Array, headers: Record<string, string> = {}) =>
  fetch(`${url}${UPLOADS_PATH}/${roomId}`, { method: 'POST', body: body as BodyInit, headers: { 'content-type': 'image/png', ...headers } });

const settledWithin = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);

describe('upload hardening', () => {
  it('only a socket that joined the room may upload to it', async () => {
    const { server, roomId, socketId } = await setup();
    const png = await noisePng(8, 8);
    const other = await connectPeer(server.url, await createRoom(server.url));
    peers.push(other);

    let r = await post(server.url, roomId, png);
    expect(r.status).toBe(403);
    expect(((await r.json()) as { error: string }).error).toMatch(/join the room/);
    r = await post(server.url, roomId, png, { [SOCKET_HEADER]: 'nobody-at-all-12345' });
    expect(r.status).toBe(403);
    r = await post(server.url, roomId, png, { [SOCKET_HEADER]: other.socket.id! }); // in another room
    expect(r.status).toBe(403);
    r = await post(server.url, roomId, png, { [SOCKET_HEADER]: socketId });
    expect(r.status).toBe(201);
  });

  it('a body is written to a temporary file as it arrives (not held in memory), and removed after', async () => {
    const { server, roomId, socketId } = await setup();
    const up = openUpload(server.url, roomId, { [SOCKET_HEADER]: socketId, 'content-length': 4 * 1024 * 1024 });
    await up.write(Buffer.alloc(1024 * 1024, 7));
    const tmp = join(server.dataDir, TMP_DIR);
    await until(
      () => {
        try {
          return readdirSync(tmp).some((f) => statSync(join(tmp, f)).size >= 1024 * 1024);
        } catch {
          return false;
        }
      },
      5_000,
      'a temporary file holding the first MB',
    );
    await up.write(Buffer.alloc(3 * 1024 * 1024, 7));
    up.end();
    expect((await up.answer).status).toBe(415); // not an image, after all
    await until(() => readdirSync(tmp).length === 0, 5_000, 'the temporary file removed');
  });

  it('limits concurrent uploads per client address and server-wide', async () => {
    const { server, roomId, socketId } = await setup({ TRUST_PROXY: '1', UPLOAD_CONCURRENCY: '3', UPLOAD_CONCURRENCY_PER_CLIENT: '2' });
    const png = await noisePng(16, 16);
    const from = (address: string) => ({ [SOCKET_HEADER]: socketId, 'x-forwarded-for': address, 'content-length': 1024 * 1024 });
    const held = [openUpload(server.url, roomId, from('10.0.0.1')), openUpload(server.url, roomId, from('10.0.0.1'))];
    for (const h of held) await h.write(Buffer.alloc(1024, 1));
    await new Promise((r) => setTimeout(r, 200));

    // A third from the same address: refused at once, before its body.
    let r = await post(server.url, roomId, png, { [SOCKET_HEADER]: socketId, 'x-forwarded-for': '10.0.0.1' });
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await r.json()) as { error: string }).error).toMatch(/uploads at once/);

    // Another address gets the last server-wide slot; a fourth address finds none.
    const third = openUpload(server.url, roomId, from('10.0.0.2'));
    await third.write(Buffer.alloc(1024, 1));
    await new Promise((r) => setTimeout(r, 200));
    r = await post(server.url, roomId, png, { [SOCKET_HEADER]: socketId, 'x-forwarded-for': '10.0.0.3' });
    expect(r.status).toBe(429);

    // A finished (here: abandoned) upload frees its slot.
    held[0]!.abort();
    await until(
      async () => (await post(server.url, roomId, png, { [SOCKET_HEADER]: socketId, 'x-forwarded-for': '10.0.0.3' })).status === 201,
      5_000,
      'a slot freed by the abandoned upload',
    );
    held[1]!.abort();
    third.abort();
  });

  it("reserves the room's quota before a body is accepted, and releases it when the upload fails", async () => {
    const { server, roomId, socketId } = await setup({ UPLOAD_ROOM_MB: '1' });
    const [a, b, c] = await Promise.all([noisePng(400, 400), noisePng(400, 400), noisePng(400, 400)]); // ~480 KB each
    const first = openUpload(server.url, roomId, { [SOCKET_HEADER]: socketId, 'content-length': a.byteLength });
    const second = openUpload(server.url, roomId, { [SOCKET_HEADER]: socketId, 'content-length': b.byteLength });
    const third = openUpload(server.url, roomId, { [SOCKET_HEADER]: socketId, 'content-length': c.byteLength });
    await Promise.all([first.write(a.subarray(0, 1000)), second.write(b.subarray(0, 1000)), third.write(c.subarray(0, 1000))]);
    // Two fit in 1 MB, the third does not: it is refused now, before its body arrives.
    const early = await settledWithin(third.answer, 3_000);
    expect(early).not.toBe('pending');
    expect((early as Answer).status).toBe(413);
    expect((early as Answer).body.error).toMatch(/room/);

    // The first fails (abandoned): its reservation goes back to the room.
    first.abort();
    await second.write(b.subarray(1000));
    second.end();
    expect((await second.answer).status).toBe(201);
    await until(async () => (await post(server.url, roomId, c, { [SOCKET_HEADER]: socketId })).status === 201, 5_000, 'the freed quota used');
    const d = await noisePng(400, 400);
    const over = await post(server.url, roomId, d, { [SOCKET_HEADER]: socketId });
    expect(over.status).toBe(413);
  });

  it('cuts off a body that misses the deadline or trickles under the minimum rate, and frees its slot', async () => {
    // The total deadline (no minimum rate).
    const { server, roomId, socketId } = await setup({ UPLOAD_TIMEOUT_S: '3', UPLOAD_MIN_BYTES_PER_S: '0', UPLOAD_CONCURRENCY_PER_CLIENT: '1' });
    const started = Date.now();
    const stalled = openUpload(server.url, roomId, { [SOCKET_HEADER]: socketId, 'content-length': 1024 * 1024 });
    await stalled.write(Buffer.alloc(1024, 1));
    const answer = await settledWithin(stalled.answer, 8_000);
    expect(answer, 'a stalled body is answered within the deadline').not.toBe('pending');
    expect((answer as Answer).status).toBe(408);
    expect((answer as Answer).at - started).toBeLessThan(6_000);
    const png = await noisePng(8, 8);
    expect((await post(server.url, roomId, png, { [SOCKET_HEADER]: socketId })).status).toBe(201);

    // The minimum rate: one byte per 100 ms, with a deadline far away.
    const rated = await setup({ UPLOAD_TIMEOUT_S: '600', UPLOAD_MIN_BYTES_PER_S: '20000', UPLOAD_CONCURRENCY_PER_CLIENT: '1' });
    const trickle = openUpload(rated.server.url, rated.roomId, { [SOCKET_HEADER]: rated.socketId, 'content-length': 1024 * 1024 });
    let stop = false;
    void (async () => {
      while (!stop) {
        await trickle.write(Buffer.alloc(1, 1));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const slow = await settledWithin(trickle.answer, 12_000);
    stop = true;
    expect(slow, 'a trickling body is cut off').not.toBe('pending');
    expect((slow as Answer).status).toBe(408);
    expect((await post(rated.server.url, rated.roomId, png, { [SOCKET_HEADER]: rated.socketId })).status).toBe(201);
  }, 60_000);

  it('downloads: concurrent readers of one file share one copy; distinct files past UPLOAD_SERVE_MB are refused until some finish', async () => {
    const { server, roomId, socketId } = await setup({ UPLOAD_SERVE_MB: '20' });
    const [a, b] = await Promise.all([noisePng(2300, 2300), noisePng(2300, 2300)]); // ~16 MB each
    const stored: string[] = [];
    for (const png of [a, b]) {
      const r = await post(server.url, roomId, png, { [SOCKET_HEADER]: socketId });
      expect(r.status).toBe(201);
      stored.push(((await r.json()) as { src: string }).src);
    }
    // A reader that never reads: the server still holds most of file A for it.
    let slow: ClientRequest | undefined;
    const slowStatus = await new Promise<number>((resolve) => {
      slow = httpGet(`${server.url}${stored[0]}`, { headers: roomCookie(roomId) }, (res) => {
        res.pause();
        resolve(res.statusCode!);
      });
      slow.on('error', () => undefined);
    });
    expect(slowStatus).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    const other = await roomFetch(`${server.url}${stored[1]}`, roomId);
    expect(other.status).toBe(503);
    expect(other.headers.get('retry-after')).toMatch(/^\d+$/);
    const same = await roomFetch(`${server.url}${stored[0]}`, roomId); // shares the copy already held
    expect(same.status).toBe(200);
    expect(Buffer.from(await same.arrayBuffer()).equals(a)).toBe(true);
    slow!.destroy();
    await until(async () => (await roomFetch(`${server.url}${stored[1]}`, roomId)).status === 200, 5_000, 'file B served once A is done');
  }, 60_000);
});
