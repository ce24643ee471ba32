// Issue 9, finding 3: the server validates every record that reaches tl_records against tldraw's
// schema (with the live-frame shape) and refuses the whole update when one record is invalid —
// as tldraw's own server-authoritative sync does. Against the real server: a refused update is
// never applied (a second client and a newcomer never see it) and the honest clients keep syncing.
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { liveFrameRecord } from '../../lib/canvas/liveFrame';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, drawShape, recordsOf, until, type AckResult, type Peer } from '../helpers/yclient';

let server: TestServer;
const peers: Peer[] = [];

beforeAll(async () => {
  server = await startServer();
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

const updateMessage = (update: Uint8Array) => {
  const enc = encoding.createEncoder();
  syncProtocol.writeUpdate(enc, update);
  return encoding.toUint8Array(enc);
};

/** A copy of `from`'s document to craft updates on, and the state it starts from. */
function fork(from: Y.Doc) {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(from));
  return { doc, records: doc.getMap<unknown>('tl_records'), base: Y.encodeStateVector(doc) };
}

/** Send `update` as a y:sync update message on the attacker's socket and return the ack. */
const sendUpdate = (p: Peer, update: Uint8Array) =>
  p.socket.timeout(5000).emitWithAck('y:sync', { roomId: p.roomId, data: updateMessage(update) }) as Promise<AckResult>;

/** A room with a writer, a watcher and an attacker (all synced); the expected records. */
async function room() {
  const roomId = await createRoom(server.url);
  const writer = await peer(roomId);
  for (let i = 0; i < 5; i++) writer.records.set(`shape:draw${i}`, drawShape(i));
  writer.records.set('shape:frame1', liveFrameRecord('shape:frame1', { prompt: 'a cat' }));
  await writer.acked();
  const watcher = await peer(roomId);
  const attacker = await peer(roomId);
  await until(() => watcher.records.size === 6 && attacker.records.size === 6, 3000, 'synced');
  return { roomId, writer, watcher, attacker };
}

/** What the honest clients and a newcomer hold equals `expected`, and sync still works. */
async function expectOnly(r: Awaited<ReturnType<typeof room>>, expected: Record<string, unknown>) {
  // a marker written after the refused update: once the watcher has it, it would have had the bad one too
  r.writer.records.set('shape:draw99', drawShape(99));
  await r.writer.acked();
  await until(() => r.watcher.records.has('shape:draw99'), 3000, 'watcher gets the marker');
  const want = { ...expected, 'shape:draw99': r.writer.records.get('shape:draw99') };
  expect(recordsOf(r.watcher.records)).toEqual(want);
  const newcomer = await peer(r.roomId);
  expect(recordsOf(newcomer.records)).toEqual(want);
  r.writer.records.delete('shape:draw99');
  await r.writer.acked();
}

describe('records are validated at the server (finding 3)', () => {
  it('an invalid shape (bad style value) is refused with invalid-message and never reaches anyone', async () => {
    const r = await room();
    const expected = recordsOf(r.writer.records);
    const f = fork(r.attacker.doc);
    f.records.set('shape:bad', { ...drawShape(50), id: 'shape:bad', props: { ...(drawShape(50).props as object), color: 'chartreuse' } });
    const ack = await sendUpdate(r.attacker, Y.encodeStateAsUpdate(f.doc, f.base));
    expect(ack).toMatchObject({ ok: false, error: { code: 'invalid-message' } });
    expect(ack.error!.message).toMatch(/shape:bad/);
    expect(ack.error!.message).toMatch(/color/);
    await expectOnly(r, expected);
  });

  it('one invalid record refuses the whole update, valid records in it included', async () => {
    const r = await room();
    const expected = recordsOf(r.writer.records);
    const f = fork(r.attacker.doc);
    f.doc.transact(() => {
      f.records.set('shape:draw60', drawShape(60));
      f.records.set('shape:draw61', { ...drawShape(61), x: 'left' });
    });
    const ack = await sendUpdate(r.attacker, Y.encodeStateAsUpdate(f.doc, f.base));
    expect(ack).toMatchObject({ ok: false, error: { code: 'invalid-message' } });
    await expectOnly(r, expected);
  });

  it('overwriting an existing record with an invalid version is refused (the update does not name the key)', async () => {
    const r = await room();
    const expected = recordsOf(r.writer.records);
    const f = fork(r.attacker.doc);
    // A Y.Map set of an existing key refers to the previous value only: no parent, no key in the update.
    f.records.set('shape:draw1', { ...drawShape(1), rotation: 'upside down' });
    const ack = await sendUpdate(r.attacker, Y.encodeStateAsUpdate(f.doc, f.base));
    expect(ack).toMatchObject({ ok: false, error: { code: 'invalid-message' } });
    expect(ack.error!.message).toMatch(/shape:draw1/);
    // and a chain: a valid overwrite followed by an invalid one in the same update
    const g = fork(r.attacker.doc);
    g.doc.transact(() => g.records.set('shape:draw2', { ...drawShape(2), x: 5 }));
    g.doc.transact(() => g.records.set('shape:draw2', { ...drawShape(2), opacity: 'half' }));
    const ack2 = await sendUpdate(r.attacker, Y.encodeStateAsUpdate(g.doc, g.base));
    expect(ack2).toMatchObject({ ok: false, error: { code: 'invalid-message' } });
    await expectOnly(r, expected);
  });

  it('refuses non-document records, unknown shape and record types, non-record values and nested types', async () => {
    const r = await room();
    const expected = recordsOf(r.writer.records);
    const cases: Array<[string, (records: Y.Map<unknown>) => void]> = [
      ['a camera (session state) in tl_records', (m) => m.set('camera:page:page', { id: 'camera:page:page', typeName: 'camera', x: 0, y: 0, z: 1, meta: {} })],
      ['an unknown shape type', (m) => m.set('shape:ufo', { ...drawShape(71), id: 'shape:ufo', type: 'ufo' })],
      ['an unknown record type', (m) => m.set('thing:1', { id: 'thing:1', typeName: 'thing' })],
      ['a string value', (m) => m.set('shape:str', 'not a record')],
      ['a record without a type', (m) => m.set('shape:none', { id: 'shape:none' })],
      ['a shape whose id is not a shape id', (m) => m.set('shape:draw72', { ...drawShape(72), id: 'page:draw72' })],
      ['a nested Y.Map', (m) => {
        const nested = new Y.Map<unknown>();
        m.set('shape:nested', nested);
        nested.set('id', 'shape:nested');
      }],
      ['an invalid live frame (steps out of range)', (m) => m.set('shape:frame2', liveFrameRecord('shape:frame2', { steps: 99 }))],
    ];
    for (const [what, write] of cases) {
      const f = fork(r.attacker.doc);
      write(f.records);
      const ack = await sendUpdate(r.attacker, Y.encodeStateAsUpdate(f.doc, f.base));
      expect({ what, ack }).toMatchObject({ what, ack: { ok: false, error: { code: 'invalid-message' } } });
    }
    expect(r.attacker.socket.connected).toBe(true);
    await expectOnly(r, expected);
  });

  it('valid writes still go through: new and changed draw shapes, a live frame, a page, deletions; the drawShape() helper records pass', async () => {
    const r = await room();
    r.writer.doc.transact(() => {
      for (let i = 10; i < 40; i++) r.writer.records.set(`shape:draw${i}`, drawShape(i));
      r.writer.records.set('shape:draw1', { ...drawShape(1), x: 500 });
      r.writer.records.set('shape:frame2', liveFrameRecord('shape:frame2', { steps: 4, outputSize: 512, view: 'side' }));
      r.writer.records.set('page:second', { id: 'page:second', typeName: 'page', name: 'Page 2', index: 'a2', meta: {} });
      r.writer.records.delete('shape:draw0');
    });
    await r.writer.acked();
    expect(r.writer.nacks).toEqual([]);
    await until(() => r.watcher.records.has('page:second') && !r.watcher.records.has('shape:draw0'), 3000, 'watcher gets them');
    expect(recordsOf(r.watcher.records)).toEqual(recordsOf(r.writer.records));
  });
});
