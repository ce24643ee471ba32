// Issue 9, finding 2: the server owns tl_meta.schema. Before, any participant could write a schema
// "newer" than everyone's build, and every tab, reload and newcomer then stopped with "Please
// reload: this room was edited with a newer version" — for good. Now such updates are refused, and
// a room already poisoned in the store is repaired when it loads (logged with its id); a room
// stored with an older schema is migrated by the server when it loads.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTLSchema, defaultBindingSchemas, defaultShapeSchemas } from '@tldraw/tlschema';
import * as Y from 'yjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { liveFrameRecord } from '../../lib/canvas/liveFrame';
import { liveFrameShapeMigrations, liveFrameShapeProps } from '../../lib/canvas/liveFrameSchema';
import { isSchemaNewer } from '../../lib/canvas/tldrawYjsBinding';
import { SqliteRoomStore } from '../../server/store/SqliteRoomStore';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, drawShape, randomRoomId, recordsOf, until, type Peer } from '../helpers/yclient';

type Schema = { schemaVersion: 2; sequences: Record<string, number> };

/** The schema of this build: tldraw's default shapes and bindings plus the live frame, as the
 * room page's store has it. */
const CURRENT = createTLSchema({
  shapes: { ...defaultShapeSchemas, 'live-frame': { props: liveFrameShapeProps, migrations: liveFrameShapeMigrations } },
  bindings: defaultBindingSchemas,
}).serialize() as Schema;

const STORE = 'com.tldraw.store';
const poisoned = (): Schema => ({ ...CURRENT, sequences: { ...CURRENT.sequences, [STORE]: CURRENT.sequences[STORE]! + 100 } });

let server: TestServer;
const peers: Peer[] = [];
const peer = async (roomId: string, url = server.url) => {
  const p = await connectPeer(url, roomId);
  peers.push(p);
  return p;
};
const schemaOf = (p: Peer) => p.doc.getMap('tl_meta').get('schema') as Schema | undefined;

beforeAll(async () => {
  server = await startServer();
});
afterEach(() => {
  for (const p of peers.splice(0)) p.close();
});
afterAll(async () => {
  await server?.stop();
});

/** A room the way the room page seeds it: records and the current schema in one transaction. */
async function seededRoom() {
  const roomId = await createRoom(server.url);
  const owner = await peer(roomId);
  owner.doc.transact(() => {
    for (let i = 0; i < 3; i++) owner.records.set(`shape:draw${i}`, drawShape(i));
    owner.doc.getMap('tl_meta').set('schema', CURRENT);
  });
  await owner.acked();
  expect(owner.nacks).toEqual([]);
  return { roomId, owner };
}

describe('the server owns tl_meta.schema (finding 2)', () => {
  it('a participant cannot make the schema newer than the server build: refused, nobody is locked out', async () => {
    const { roomId, owner } = await seededRoom();
    const attacker = await peer(roomId);
    attacker.doc.getMap('tl_meta').set('schema', poisoned());
    await attacker.acked();
    expect(attacker.nacks).toHaveLength(1);
    expect(attacker.nacks[0]).toMatchObject({ ok: false, error: { code: 'invalid-message' } });
    expect(attacker.nacks[0]!.error!.message).toMatch(/tl_meta/);
    const newcomer = await peer(roomId);
    expect(schemaOf(newcomer)).toEqual(CURRENT);
    expect(isSchemaNewer(schemaOf(newcomer) as never, CURRENT as never)).toBe(false);
    expect(recordsOf(newcomer.records)).toEqual(recordsOf(owner.records));
  });

  it('refuses every other change of tl_meta: deleting the schema, garbage, an older schema, other keys', async () => {
    const { roomId } = await seededRoom();
    const older: Schema = { ...CURRENT, sequences: { ...CURRENT.sequences, 'com.tldraw.shape.live-frame': 1 } };
    const writes: Array<[string, (meta: Y.Map<unknown>) => void]> = [
      ['delete the schema', (m) => m.delete('schema')],
      ['a string', (m) => m.set('schema', 'v999')],
      ['an unknown schemaVersion', (m) => m.set('schema', { schemaVersion: 7, sequences: {} })],
      ['an older schema', (m) => m.set('schema', older)],
      ['another key', (m) => m.set('owner', 'me')],
    ];
    for (const [what, write] of writes) {
      const attacker = await peer(roomId);
      write(attacker.doc.getMap('tl_meta'));
      await attacker.acked();
      expect({ what, nacks: attacker.nacks }).toMatchObject({ what, nacks: [{ ok: false, error: { code: 'invalid-message' } }] });
    }
    const newcomer = await peer(roomId);
    expect(schemaOf(newcomer)).toEqual(CURRENT);
    expect([...newcomer.doc.getMap('tl_meta').keys()]).toEqual(['schema']);
  });

  it('accepts the current schema again (a client upgrading the room), whatever its key order', async () => {
    const { roomId } = await seededRoom();
    const other = await peer(roomId);
    const reordered = { schemaVersion: 2, sequences: Object.fromEntries(Object.entries(CURRENT.sequences).reverse()) };
    other.doc.getMap('tl_meta').set('schema', reordered);
    await other.acked();
    expect(other.nacks).toEqual([]);
  });
});

describe('repair on load (finding 2)', () => {
  /** A data directory holding one room whose stored document is `doc`. */
  function storedRoom(doc: Y.Doc) {
    const dataDir = mkdtempSync(join(tmpdir(), 'lc-schema-'));
    // a room stored before access control: it exists, so it joins as an open room
    const roomId = randomRoomId();
    const store = new SqliteRoomStore(dataDir);
    store.appendUpdate(roomId, Y.encodeStateAsUpdate(doc));
    store.close();
    return { dataDir, roomId };
  }

  it('a room stored with a poisoned (newer or unparseable) schema is repaired to the server schema when it loads, records kept, room id logged', async () => {
    for (const bad of [poisoned(), 'garbage'] as unknown[]) {
      const doc = new Y.Doc();
      doc.transact(() => {
        for (let i = 0; i < 4; i++) doc.getMap('tl_records').set(`shape:draw${i}`, drawShape(i));
        doc.getMap('tl_meta').set('schema', bad);
      });
      const { dataDir, roomId } = storedRoom(doc);
      const s = await startServer({ dataDir, env: { LOG_LEVEL: 'info' } });
      try {
        const p = await connectPeer(s.url, roomId);
        try {
          expect(schemaOf(p)).toEqual(CURRENT);
          expect(recordsOf(p.records)).toEqual(recordsOf(doc.getMap('tl_records')));
        } finally {
          p.close();
        }
        await until(() => /repaired/i.test(s.output()) && s.output().includes(roomId), 3000, 'the repair is logged with the room id');
      } finally {
        await s.stop();
      }
      // the repair is stored: after a restart the room is still repaired
      const again = await startServer({ dataDir });
      try {
        const p = await connectPeer(again.url, roomId);
        expect(schemaOf(p)).toEqual(CURRENT);
        p.close();
      } finally {
        await again.stop();
      }
    }
  });

  it('a room stored with an older schema is migrated by the server when it loads', async () => {
    const doc = new Y.Doc();
    const oldSchema: Schema = { ...CURRENT, sequences: { ...CURRENT.sequences, 'com.tldraw.shape.live-frame': 1 } };
    doc.transact(() => {
      // version 1 validated loosely: steps 50 was allowed then; the version 2 migration clamps it
      doc.getMap('tl_records').set('shape:frame', liveFrameRecord('shape:frame', { steps: 50 }));
      doc.getMap('tl_records').set('shape:draw1', drawShape(1));
      doc.getMap('tl_meta').set('schema', oldSchema);
    });
    const { dataDir, roomId } = storedRoom(doc);
    const s = await startServer({ dataDir });
    try {
      const p = await connectPeer(s.url, roomId);
      expect(schemaOf(p)).toEqual(CURRENT);
      expect((p.records.get('shape:frame') as { props: { steps: number } }).props.steps).toBe(8);
      expect(p.records.get('shape:draw1')).toEqual(drawShape(1));
      p.close();
    } finally {
      await s.stop();
    }
  });
});
