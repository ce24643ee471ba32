// A disk that refuses writes (here: SQLite's own "database or disk is full", provoked by capping
// max_page_count on the server's live connection) must never leave a change that lives only in
// memory looking saved. The sender gets server-error (not counted as a violation), the room's
// clients are disconnected so the room reloads from what the store really holds, and once the disk
// accepts writes again the change reaches the store through the clients' own resync.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { loadConfig } from '../../server/config';
import { createLivecanvasServer, type LivecanvasServer } from '../../server/index';
import type { SqliteRoomStore } from '../../server/store/SqliteRoomStore';
import { connectPeer, createRoom, drawShape, until, type Peer } from '../helpers/yclient';

let server: LivecanvasServer;
let url: string;
const peers: Peer[] = [];

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'lc-store-fail-'));
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LC_WEB: '0', LOG_LEVEL: 'silent', NODE_ENV: 'production' }, []);
  server = await createLivecanvasServer(config);
  const addr = await server.listen();
  url = `http://127.0.0.1:${addr.port}`;
});

afterAll(async () => {
  for (const p of peers) p.close();
  await server?.close();
});

describe('a store that cannot write', () => {
  it('answers server-error, disconnects the room, and stores the change after the disk recovers', async () => {
    const roomId = await createRoom(url);
    const a = await connectPeer(url, roomId);
    peers.push(a);
    a.records.set('shape:before', drawShape(1));
    await a.acked();

    const sqlite = server.store as SqliteRoomStore;
    const db = sqlite.db;
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`); // the next page the log needs cannot be had
    const big = { ...drawShape(2), meta: { pad: 'x'.repeat(1024 * 1024) } }; // needs ~250 new pages
    a.records.set('shape:unsaved', big);
    await a.acked().catch(() => undefined); // answered (refused) or cut off by the disconnect
    await until(() => a.errors.some((e) => e.code === 'server-error'), 5_000, 'server-error to the sender');
    expect(a.nacks.length).toBeGreaterThan(0);
    expect(a.errors.some((e) => e.code === 'malformed-update')).toBe(false);
    // not in the store: a reader that opens the room from disk would not see it
    const stored = sqlite.load(roomId);
    const fromDisk = new Y.Doc();
    for (const u of stored.snapshot ? [stored.snapshot, ...stored.updates] : stored.updates) Y.applyUpdate(fromDisk, u);
    expect(fromDisk.getMap('tl_records').has('shape:unsaved')).toBe(false);

    // the server disconnected the room's clients (so the room unloads)
    await until(() => !a.socket.connected, 5_000, 'the sender disconnected by the server');
    db.pragma('max_page_count = 1073741823'); // the disk recovers
    // the client reconnects (the browser's provider does so by itself after a server disconnect),
    // the room reloads from disk, and the resync sends the change again
    await a.reconnect();
    await until(() => {
      const s = sqlite.load(roomId);
      const d = new Y.Doc();
      for (const u of s.snapshot ? [s.snapshot, ...s.updates] : s.updates) Y.applyUpdate(d, u);
      return d.getMap('tl_records').has('shape:unsaved');
    }, 20_000, 'the unsaved change stored after the recovery');
    const b = await connectPeer(url, roomId);
    peers.push(b);
    expect(b.records.has('shape:unsaved')).toBe(true);
    expect(b.records.has('shape:before')).toBe(true);
  }, 60_000);
});
