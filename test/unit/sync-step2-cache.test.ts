// Room.step2For: a step 1 that knows nothing of the document ("send me everything") is answered
// with one encoding of the whole document per document version — the same bytes for every asker
// until the document changes — and any other state vector gets its diff, as before.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as decoding from 'lib0/decoding';
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../server/logger';
import { Room } from '../../server/rooms/Room';
import { SqliteRoomStore } from '../../server/store/SqliteRoomStore';
import { drawShape } from '../helpers/yclient';

const dirs: string[] = [];
const stores: SqliteRoomStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function room(): Promise<Room> {
  const dir = mkdtempSync(join(tmpdir(), 'lc-step2-'));
  dirs.push(dir);
  const store = new SqliteRoomStore(dir);
  stores.push(store);
  return Room.load('step2cacheroom', {
    store,
    broadcast: () => {},
    logger: createLogger('silent'),
    compactEvery: 1000,
    compactIntervalMs: 60_000,
    maxBytes: 64 * 1024 * 1024,
  });
}

/** The update inside a step 2 message. */
const updateOf = (message: Uint8Array) => {
  const d = decoding.createDecoder(message);
  expect(decoding.readVarUint(d)).toBe(1);
  return decoding.readVarUint8Array(d);
};

describe('Room.step2For', () => {
  it('reuses one encoding of the whole document per version, for every state vector that knows nothing of it', async () => {
    const r = await room();
    r.doc.transact(() => {
      for (let i = 0; i < 20; i++) r.doc.getMap('tl_records').set(`shape:draw${i}`, drawShape(i));
    });
    const empty = Y.encodeStateVector(new Y.Doc());
    const a = r.step2For(empty);
    const stranger = new Y.Doc();
    stranger.getMap('x').set('y', 1); // a state vector of clients this document never saw
    const b = r.step2For(Y.encodeStateVector(stranger));
    expect(b).toBe(a); // the very same bytes, not a second encoding
    const copy = new Y.Doc();
    Y.applyUpdate(copy, updateOf(a));
    expect(copy.getMap('tl_records').size).toBe(20);

    r.doc.getMap('tl_records').set('shape:draw99', drawShape(99));
    const c = r.step2For(empty);
    expect(c).not.toBe(a);
    expect(r.step2For(empty)).toBe(c);
  });

  it('answers a state vector that knows part of the document with the diff only', async () => {
    const r = await room();
    r.doc.getMap('tl_records').set('shape:draw1', drawShape(1));
    const peer = new Y.Doc();
    Y.applyUpdate(peer, updateOf(r.step2For(Y.encodeStateVector(peer))));
    const known = Y.encodeStateVector(peer);
    r.doc.getMap('tl_records').set('shape:draw2', drawShape(2));
    const diff = updateOf(r.step2For(known));
    expect(diff.byteLength).toBeLessThan(Y.encodeStateAsUpdate(r.doc).byteLength * 0.7);
    Y.applyUpdate(peer, diff);
    expect([...peer.getMap('tl_records').keys()].sort()).toEqual(['shape:draw1', 'shape:draw2']);
  });
});
