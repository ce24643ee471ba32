// Acknowledged updates survive `kill -9` of the server; a graceful stop compacts every room. On both
// stores (test/helpers/storeUnderTest.ts): SQLite in DATA_DIR, and PostgreSQL (DATABASE_URL).
// "Acknowledged" = the server called the ack callback of the `y:sync` message with {ok:true}; it
// does so only after the update is committed to the store.
//
// PostgreSQL runs here with fsync and synchronous_commit on (`fast: false`), and after the kill of
// the server it is crashed too (immediate shutdown, WAL replay on restart: store.crash()): an
// update acknowledged before its commit reached the WAL on disk would then be missing. (SQLite
// lives inside the server process: the kill -9 is already its crash.)
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server';
import { recordIdsOf, STORE_KINDS, useStoreUnderTest } from '../helpers/storeUnderTest';
import { connectPeer, createRoom, drawShape, until, type AckResult, type Peer } from '../helpers/yclient';

const servers: TestServer[] = [];
const peers: Peer[] = [];
const peer = async (url: string, roomId: string) => {
  const p = await connectPeer(url, roomId);
  peers.push(p);
  return p;
};

afterEach(async () => {
  for (const p of peers.splice(0)) p.close();
  for (const s of servers.splice(0)) await s.stop();
});

describe.each(STORE_KINDS)('durability (%s)', (kind) => {
  const store = useStoreUnderTest(kind, { fast: false });
  const start = async (dataDir?: string, env?: Record<string, string>) => {
    const s = await startServer({ dataDir, env: { ...store.env, ...env } });
    servers.push(s);
    return s;
  };

  it('N acknowledged updates survive kill -9 (with compactions in between)', async () => {
    const N = 200;
    const first = await start(undefined, { COMPACT_EVERY: '64' });
    const roomId = await createRoom(first.url);
    const a = await peer(first.url, roomId);
    for (let i = 0; i < N; i++) a.records.set(`shape:${i}`, drawShape(i)); // one y:sync message each
    await a.acked();
    expect(a.nacks).toEqual([]);
    await first.stop('SIGKILL'); // kill -9: no flush, no compaction
    await store.crash();

    const second = await start(first.dataDir);
    const b = await peer(second.url, roomId);
    expect(b.records.size).toBe(N);
    for (const i of [0, 63, 64, 127, 128, 199]) expect(b.records.get(`shape:${i}`)).toEqual(drawShape(i));
  });

  it('every update acknowledged before the kill is there after it, even mid-stream', async () => {
    // Send a burst of separate updates and kill the server while acks are still coming in. If the
    // server got through the whole burst before the kill landed, the test proved nothing: retry
    // with a longer one.
    for (let total = 500; ; total *= 2) {
      // A burst this size is a flood by the default limits; here it must all be judged on merit.
      const first = await start(undefined, { RATE_BURST: '100000', RATE_PER_SECOND: '100000' });
      const roomId = await createRoom(first.url);
      const a = await peer(first.url, roomId);
      const doc = new Y.Doc();
      const acked: number[] = [];
      let current = 0;
      doc.on('update', (update: Uint8Array) => {
        const i = current;
        const enc = encoding.createEncoder();
        syncProtocol.writeUpdate(enc, update);
        a.socket.emit('y:sync', { roomId, data: encoding.toUint8Array(enc) }, (res: AckResult) => {
          if (res.ok) acked.push(i);
        });
      });
      for (current = 0; current < total; current++) doc.getMap('tl_records').set(`shape:${current}`, drawShape(current));
      await until(() => acked.length >= 150, 10_000, '150 acks');
      await first.stop('SIGKILL'); // kill -9: no flush, no compaction
      const ackedAtKill = [...acked];
      await store.crash();
      if (ackedAtKill.length >= total) {
        expect(total, 'the server always finished the stream before the kill').toBeLessThan(8000);
        continue;
      }
      expect(ackedAtKill.length).toBeGreaterThanOrEqual(150);
      expect(ackedAtKill.length).toBeLessThan(total);

      const second = await start(first.dataDir);
      const b = await peer(second.url, roomId);
      const missing = ackedAtKill.filter((i) => !b.records.has(`shape:${i}`));
      expect(missing).toEqual([]);
      return;
    }
  });

  it('SIGTERM flushes: the room is compacted into one snapshot and reloads intact', async () => {
    const first = await start(undefined, { COMPACT_EVERY: '100000', COMPACT_INTERVAL_S: '3600' });
    const roomId = await createRoom(first.url);
    const a = await peer(first.url, roomId);
    for (let i = 0; i < 50; i++) a.records.set(`shape:${i}`, drawShape(i));
    await a.acked();
    await first.stop('SIGTERM');
    expect(first.proc.exitCode).toBe(0);

    const rows = await store.rows(first.dataDir, roomId);
    expect(rows.updates).toHaveLength(0);
    expect(rows.snapshot).not.toBeNull();
    expect(recordIdsOf(rows.snapshot!)).toHaveLength(50);

    const second = await start(first.dataDir);
    const b = await peer(second.url, roomId);
    expect(b.records.get('shape:49')).toEqual(drawShape(49));
  });
});
