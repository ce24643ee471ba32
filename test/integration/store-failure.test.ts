// A store that refuses writes must never leave a change that lives only in memory looking saved.
// The sender gets server-error (not counted as a violation), the room's clients are disconnected
// so the room reloads from what the store really holds, and once the store accepts writes again
// the change reaches it through the clients' own resync. On both stores, with the server running
// throughout (in this process, to reach its store):
//   - SQLite: "database or disk is full", provoked by capping max_page_count on the server's live
//     connection.
//   - PostgreSQL: the database switched to read-only (ALTER DATABASE … SET
//     default_transaction_read_only = on, and the server's sessions ended so that its pool's new
//     ones start read-only). This is how managed PostgreSQL services answer a full disk, and what
//     a failover to a standby does: PostgreSQL is up and reads work, but the INSERT of an update
//     fails with an error from the server — the path PostgresRoomStore.appendUpdate really takes.
//     (Stopping PostgreSQL instead is cluster-faults.test.ts; a trigger that raises would test a
//     failure no real deployment has.)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config';
import { createLivecanvasServer, type LivecanvasServer } from '../../server/index';
import type { SqliteRoomStore } from '../../server/store/SqliteRoomStore';
import { PG_DATABASE } from '../../scripts/localServices';
import { loadedRecordIds, STORE_KINDS, useStoreUnderTest, type StoreUnderTest } from '../helpers/storeUnderTest';
import { connectPeer, createRoom, drawShape, until, type Peer } from '../helpers/yclient';

/** Makes the server's store refuse writes; resolves to the function that lets it write again. */
type BreakWrites = (server: LivecanvasServer, store: StoreUnderTest) => Promise<() => Promise<void>>;

const breakWrites: Record<StoreUnderTest['kind'], BreakWrites> = {
  async sqlite(server) {
    const db = (server.store as SqliteRoomStore).db;
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`); // the next page the log needs cannot be had
    return async () => {
      db.pragma('max_page_count = 1073741823'); // the disk recovers
    };
  },
  async postgres(_server, store) {
    // The setting applies to sessions started after it: end the server's (its pool reconnects).
    // (the test's own sessions are exempt: storeUnderTest starts them read-write, so the undo works)
    const readOnly = async (on: boolean) => {
      await store.query(`ALTER DATABASE ${PG_DATABASE} ${on ? 'SET default_transaction_read_only = on' : 'RESET default_transaction_read_only'}`);
      await store.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'livecanvas'", [PG_DATABASE]);
    };
    await readOnly(true);
    // ended on PostgreSQL's side; let the server's pool see it before the next write, which must
    // then fail for being read-only (not for meeting a connection that was just cut)
    await until(async () => (await store.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'livecanvas'")).length === 0, 5_000, "the server's sessions ended");
    await new Promise((r) => setTimeout(r, 100));
    return () => readOnly(false);
  },
};

describe.each(STORE_KINDS)('a store that cannot write (%s)', (kind) => {
  const store = useStoreUnderTest(kind);
  let server: LivecanvasServer;
  let url: string;
  let dataDir: string;
  const peers: Peer[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'lc-store-fail-'));
    const env = { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LC_WEB: '0', LOG_LEVEL: 'silent', NODE_ENV: 'production' as const, ...store.env };
    server = await createLivecanvasServer(loadConfig(env, []));
    const addr = await server.listen();
    url = `http://127.0.0.1:${addr.port}`;
  });

  afterAll(async () => {
    for (const p of peers) p.close();
    await server?.close();
  });

  const storedIds = async (roomId: string) => loadedRecordIds(await store.rows(dataDir, roomId));

  it('answers server-error, disconnects the room, and stores the change after the store recovers', async () => {
    const roomId = await createRoom(url);
    const a = await connectPeer(url, roomId);
    peers.push(a);
    a.records.set('shape:before', drawShape(1));
    await a.acked();

    const repair = await breakWrites[kind](server, store);
    const big = { ...drawShape(2), meta: { pad: 'x'.repeat(1024 * 1024) } }; // SQLite: needs ~250 new pages
    a.records.set('shape:unsaved', big);
    await a.acked().catch(() => undefined); // answered (refused) or cut off by the disconnect
    await until(() => a.errors.some((e) => e.code === 'server-error'), 10_000, 'server-error to the sender');
    expect(a.nacks.length).toBeGreaterThan(0);
    // the store's own refusal reaches the client in the message
    const refusal = kind === 'sqlite' ? /database or disk is full/ : /read-only transaction/;
    expect(a.errors.find((e) => e.code === 'server-error')?.message).toMatch(refusal);
    expect(a.errors.some((e) => e.code === 'malformed-update')).toBe(false);
    // not in the store: a reader that opens the room from the store would not see it
    expect(await storedIds(roomId)).not.toContain('shape:unsaved');
    expect(await storedIds(roomId)).toContain('shape:before');

    // the server disconnected the room's clients (so the room unloads)
    await until(() => !a.socket.connected, 5_000, 'the sender disconnected by the server');
    await repair();
    // the client reconnects (the browser's provider does so by itself after a server disconnect),
    // the room reloads from the store, and the resync sends the change again
    await a.reconnect();
    await until(async () => (await storedIds(roomId)).includes('shape:unsaved'), 20_000, 'the unsaved change stored after the recovery');
    const b = await connectPeer(url, roomId);
    peers.push(b);
    expect(b.records.has('shape:unsaved')).toBe(true);
    expect(b.records.has('shape:before')).toBe(true);
  }, 60_000);
});
