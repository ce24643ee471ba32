// Issue 9, finding 6 (a server-wide store quota), against the real server process. Before, every
// room could grow to 64 MB of document plus 512 MB of uploads and rooms were never removed, so the
// database grew until the disk was full. Now STORE_MAX_MB bounds the database (its pages in use
// plus the WAL): past it, updates that add content are refused with `too-large` (never a
// violation; deletions still pass, like a full room), uploads answer 507, and /healthz reports the
// store's size and quota.
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UPLOADS_PATH } from '../../lib/protocol/uploads';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, drawShape, until, type Peer } from '../helpers/yclient';

/** The header carrying the id of the uploader's Socket.IO socket (lib/protocol/uploads.ts). */
const SOCKET_HEADER = 'x-livecanvas-socket';
const MB = 1024 * 1024;

let server: TestServer;
const peers: Peer[] = [];

beforeAll(async () => {
  server = await startServer({ env: { STORE_MAX_MB: '1', LOG_LEVEL: 'info' } });
});
afterEach(() => {
  for (const p of peers.splice(0)) p.close();
});
afterAll(async () => {
  await server?.stop();
});

const peer = async (roomId: string) => {
  const p = await connectPeer(server.url, roomId);
  peers.push(p);
  return p;
};

interface Health {
  ok: boolean;
  problems?: string[];
  storage: { usedBytes?: number; fileBytes?: number; walBytes?: number; maxBytes?: number; full?: boolean };
}
const health = async () => (await (await fetch(`${server.url}/healthz`)).json()) as Health;

/** Write batches of long strokes (~240 KB each) until the server refuses one, at most `maxMB`. */
async function writeUntilRefused(p: Peer, maxMB: number, first = 0): Promise<{ written: number; next: number }> {
  let written = 0;
  let i = first;
  while (p.nacks.length === 0 && written < maxMB * MB) {
    const before = written;
    p.doc.transact(() => {
      for (let k = 0; k < 20; k++, i++) {
        const shape = drawShape(i, 1500);
        written += JSON.stringify(shape).length;
        p.records.set(shape.id as string, shape);
      }
    });
    await p.acked();
    if (p.nacks.length > 0) written = before;
  }
  return { written, next: i };
}

describe('store quota (STORE_MAX_MB)', () => {
  it('past the quota, additions are refused with too-large (no violation), deletions pass, uploads answer 507, /healthz reports it', async () => {
    const roomA = await createRoom(server.url);
    const writer = await peer(roomA);
    const { written, next } = await writeUntilRefused(writer, 4);
    // refused once the database holds about 1 MB, not after 4 MB
    expect(writer.nacks.length).toBeGreaterThan(0);
    expect(written).toBeLessThan(1.5 * MB);
    expect(writer.nacks[0]!.error).toMatchObject({ code: 'too-large' });
    expect(writer.nacks[0]!.error!.message).toMatch(/storage is full.*STORE_MAX_MB/);
    expect(writer.errors.some((e) => e.code === 'too-large' && /STORE_MAX_MB/.test(e.message))).toBe(true);

    // Another room is refused alike; refusals are no violation: a writer going on stays connected.
    const roomB = await createRoom(server.url);
    const other = await peer(roomB);
    for (let k = 0; k < 25; k++) {
      other.records.set(`shape:draw${k}`, drawShape(k, 400));
      await other.acked();
    }
    expect(other.nacks.length).toBeGreaterThan(0);
    expect(other.nacks.every((n) => n.error?.code === 'too-large')).toBe(true);
    expect(other.socket.connected).toBe(true);
    expect(writer.socket.connected).toBe(true);

    // Deletions still pass (a fresh peer, synced with what the server holds).
    const cleaner = await peer(roomA);
    const watcher = await peer(roomA);
    const stored = [...cleaner.records.keys()].filter((k) => k.startsWith('shape:'));
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.length).toBeLessThan(next);
    cleaner.doc.transact(() => {
      for (const k of stored.slice(0, 5)) cleaner.records.delete(k);
    });
    await cleaner.acked();
    expect(cleaner.nacks).toEqual([]);
    await until(() => stored.slice(0, 5).every((k) => !watcher.records.has(k)), 2000, 'the deletions reach another peer');

    // Uploads answer 507.
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#ff0000' } }).png().toBuffer();
    const up = await fetch(`${server.url}${UPLOADS_PATH}/${roomA}`, {
      method: 'POST',
      body: png as BodyInit,
      headers: { 'content-type': 'image/png', [SOCKET_HEADER]: cleaner.socket.id! },
    });
    expect(up.status).toBe(507);
    expect(((await up.json()) as { error: string }).error).toMatch(/storage is full.*STORE_MAX_MB/);

    // /healthz: the store's size and quota, and the full store as a problem.
    const h = await health();
    expect(h.storage.maxBytes).toBe(MB);
    expect(h.storage.usedBytes).toBeGreaterThan(0.5 * MB);
    expect(h.storage.fileBytes).toBeGreaterThan(0);
    expect(typeof h.storage.walBytes).toBe('number');
    expect(h.storage.full).toBe(true);
    expect(h.ok).toBe(false);
    expect(h.problems?.some((p) => /storage is full/.test(p))).toBe(true);
    await until(() => /STORE_MAX_MB/.test(server.output()), 2000, 'the full store logged');
  });
});
