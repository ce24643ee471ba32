// The tldraw ⇄ Yjs binding and presence, with two real tldraw stores and two Y.Docs joined by a
// direct "network" (updates applied to the other doc), no server and no browser.
import {
  createShapeId,
  createTLStore,
  createUserId,
  defaultBindingUtils,
  defaultShapeUtils,
  GeoShapeUtil,
  atom,
  toRichText,
  UserRecordType,
  type TLStore,
  type TLUser,
} from 'tldraw';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { getMetaMap, getRecordsMap, TL_META_SCHEMA } from '../../lib/canvas/docLayout';
import { bindPresence, PRESENCE_PUBLISH_INTERVAL_MS, presenceIdFor } from '../../lib/canvas/presence';
import { bindTldrawStoreToYjs, NEWER_SCHEMA_MESSAGE } from '../../lib/canvas/tldrawYjsBinding';

beforeAll(() => {
  // tldraw flushes store listeners on animation frames; Node has none.
  globalThis.requestAnimationFrame ??= ((cb: FrameRequestCallback) =>
    setTimeout(() => cb(Date.now()), 1) as unknown as number) as typeof requestAnimationFrame;
  globalThis.cancelAnimationFrame ??= ((id: number) => clearTimeout(id)) as typeof cancelAnimationFrame;
});

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function newStore(): TLStore {
  const store = createTLStore({ shapeUtils: defaultShapeUtils, bindingUtils: defaultBindingUtils });
  // What the editor does on mount: default document, page, camera…
  (store as unknown as { ensureStoreIsUsable(): void }).ensureStoreIsUsable();
  return store;
}

/** Two docs that deliver every update to each other, like a server would. */
function linkedDocs() {
  const a = new Y.Doc();
  const b = new Y.Doc();
  const net = Symbol('net');
  a.on('update', (u: Uint8Array, o: unknown) => o !== net && Y.applyUpdate(b, u, net));
  b.on('update', (u: Uint8Array, o: unknown) => o !== net && Y.applyUpdate(a, u, net));
  return { a, b };
}

const until = async (fn: () => boolean, what: string, ms = 2000) => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

const geo = (id: string, x: number) => ({
  id: createShapeId(id),
  type: 'geo' as const,
  x,
  y: 10,
  parentId: 'page:page' as any,
  index: 'a1' as any,
  // getDefaultProps does not touch the editor; the store does not fill in defaults itself
  props: { ...new GeoShapeUtil(undefined as any).getDefaultProps(), w: 100, h: 50 },
});

describe('tldraw ⇄ Yjs binding', () => {
  it('seeds an empty doc, then syncs creates, updates and deletes both ways without echo', async () => {
    const { a: docA, b: docB } = linkedDocs();
    const storeA = newStore();
    const storeB = newStore();
    const bindA = bindTldrawStoreToYjs(storeA, docA);
    cleanups.push(bindA.dispose);
    expect(getRecordsMap(docA).get('page:page')?.typeName).toBe('page');
    expect(getMetaMap(docB).get(TL_META_SCHEMA)).toEqual(storeA.schema.serialize());
    const bindB = bindTldrawStoreToYjs(storeB, docB);
    cleanups.push(bindB.dispose);

    let updatesFromA = 0;
    docA.on('update', (_u: Uint8Array, origin: unknown) => origin === bindA.origin && updatesFromA++);

    storeA.put([storeA.schema.types.shape.create(geo('box', 10))]);
    await until(() => storeB.has(createShapeId('box')), 'the box in B');
    expect(storeB.get(createShapeId('box'))).toEqual(storeA.get(createShapeId('box')));
    expect(updatesFromA).toBe(1);

    storeB.update(createShapeId('box'), (s) => ({ ...s, x: 300 }));
    await until(() => storeA.get(createShapeId('box'))?.x === 300, 'B’s move in A');
    // A applied B's change as a remote change: nothing went back out from A.
    await new Promise((r) => setTimeout(r, 30));
    expect(updatesFromA).toBe(1);

    storeA.remove([createShapeId('box')]);
    await until(() => !storeB.has(createShapeId('box')), 'the delete in B');
  });

  it('loads an existing doc into a fresh store, skipping records it cannot validate', async () => {
    const { a: docA, b: docB } = linkedDocs();
    const storeA = newStore();
    cleanups.push(bindTldrawStoreToYjs(storeA, docA).dispose);
    storeA.put([storeA.schema.types.shape.create(geo('kept', 5))]);
    await until(() => getRecordsMap(docA).has(createShapeId('kept')), 'the shape in the doc');
    getRecordsMap(docA).set('shape:alien', { id: 'shape:alien', typeName: 'shape', type: 'alien-shape' } as any);

    const storeB = newStore();
    cleanups.push(bindTldrawStoreToYjs(storeB, docB).dispose);
    expect(storeB.get(createShapeId('kept'))).toEqual(storeA.get(createShapeId('kept')));
    expect(storeB.has('shape:alien' as any)).toBe(false);
  });

  it('stops and asks for a reload when the doc was written by a newer schema', () => {
    const doc = new Y.Doc();
    const store = newStore();
    const ours = store.schema.serialize();
    getRecordsMap(doc).set('document:document', store.get('document:document' as any) as any);
    getMetaMap(doc).set(TL_META_SCHEMA, {
      ...ours,
      sequences: { ...ours.sequences, 'com.tldraw.shape.geo': ours.sequences['com.tldraw.shape.geo']! + 1 },
    });
    const messages: string[] = [];
    const binding = bindTldrawStoreToYjs(store, doc, { onIncompatible: (m) => messages.push(m) });
    cleanups.push(binding.dispose);
    expect(messages).toEqual([NEWER_SCHEMA_MESSAGE]);
    expect(NEWER_SCHEMA_MESSAGE).toMatch(/^Please reload: this room was edited with a newer version/);
    // Stopped: local edits no longer reach the doc.
    store.put([store.schema.types.shape.create(geo('late', 1))]);
    expect(getRecordsMap(doc).has(createShapeId('late'))).toBe(false);
  });
});

describe('tldraw ⇄ Yjs binding: what the doc may hold', () => {
  it('loads only document records from the doc, never another tab’s camera or session records', () => {
    const doc = new Y.Doc();
    const storeA = newStore();
    cleanups.push(bindTldrawStoreToYjs(storeA, doc).dispose);
    storeA.put([storeA.schema.types.shape.create(geo('box', 5))]);
    // What a buggy or hostile client could have written into tl_records: its camera and instance.
    const camera = storeA.allRecords().find((r) => r.typeName === 'camera')!;
    const instance = storeA.allRecords().find((r) => r.typeName === 'instance')!;
    getRecordsMap(doc).set(camera.id, { ...camera, x: 1234, y: -77, z: 3 } as any);
    getRecordsMap(doc).set(instance.id, { ...instance, isGridMode: true, isFocusMode: true } as any);

    const storeB = newStore();
    const cameraB = storeB.get(camera.id);
    const instanceB = storeB.get(instance.id);
    cleanups.push(bindTldrawStoreToYjs(storeB, doc).dispose);
    expect(storeB.has(createShapeId('box'))).toBe(true);
    expect(storeB.get(camera.id)).toEqual(cameraB);
    expect(storeB.get(instance.id)).toEqual(instanceB);
  });

  it('upgrades a document written with an older schema: records migrate in the store and in the doc', async () => {
    // A room last edited by a Livecanvas whose tldraw had geo shapes at version 9: plain `text`,
    // no `richText`, no flip props (tldraw's AddRichText and AddFlipProps migrations come later).
    const probe = newStore();
    const ours = probe.schema.serialize() as { schemaVersion: 2; sequences: Record<string, number> };
    expect(ours.sequences['com.tldraw.shape.geo']).toBeGreaterThan(9);
    const older = { ...ours, sequences: { ...ours.sequences, 'com.tldraw.shape.geo': 9 } };
    const current = probe.schema.types.shape.create(geo('old', 40)) as any;
    const { richText: _r, flipX: _x, flipY: _y, ...props } = current.props;
    const oldGeo = { ...current, props: { ...props, text: 'from an older version' } };
    expect(oldGeo.props).not.toHaveProperty('richText');

    const { a: docOld, b: docNew } = linkedDocs();
    for (const r of Object.values(probe.serialize('document'))) getRecordsMap(docOld).set(r.id, r as any);
    getRecordsMap(docOld).set(oldGeo.id, oldGeo);
    getMetaMap(docOld).set(TL_META_SCHEMA, older);

    const store = newStore();
    const messages: string[] = [];
    cleanups.push(bindTldrawStoreToYjs(store, docNew, { onIncompatible: (m) => messages.push(m) }).dispose);
    expect(messages).toEqual([]);
    const loaded = store.get(createShapeId('old')) as any;
    expect(loaded.props.richText).toEqual(toRichText('from an older version'));
    expect(loaded.props).toMatchObject({ flipX: false, flipY: false });
    expect(loaded.props).not.toHaveProperty('text');
    // The doc itself was upgraded, record and schema, and the other replica received it.
    const inDoc = getRecordsMap(docOld).get(oldGeo.id) as any;
    expect(inDoc.props).toEqual(loaded.props);
    expect(getMetaMap(docOld).get(TL_META_SCHEMA)).toEqual(ours);
    // Untouched records were not rewritten.
    expect(getRecordsMap(docOld).get('page:page')).toEqual(probe.get('page:page' as any));
  });

  it('splits a large local change over several transactions and refuses a record that alone is too large', async () => {
    const { a: docA, b: docB } = linkedDocs();
    const storeA = newStore();
    const storeB = newStore();
    const tooLarge: Array<[number, string]> = [];
    const bindA = bindTldrawStoreToYjs(storeA, docA, {
      maxTransactionBytes: 20_000,
      onTooLarge: (bytes, id) => tooLarge.push([bytes, id]),
    });
    cleanups.push(bindA.dispose);
    cleanups.push(bindTldrawStoreToYjs(storeB, docB).dispose);
    const transactions: number[] = [];
    docA.on('afterTransaction', (tx: Y.Transaction) => tx.origin === bindA.origin && transactions.push(tx.changed.size));

    // Ten 6 kB shapes in one store change: 60 kB, three or more transactions of at most 20 kB.
    const padded = (id: string, kb: number) =>
      storeA.schema.types.shape.create({ ...geo(id, 0), meta: { pad: 'x'.repeat(kb * 1000) } });
    storeA.put(Array.from({ length: 10 }, (_, i) => padded(`many${i}`, 6)));
    await until(() => Array.from({ length: 10 }).every((_, i) => storeB.has(createShapeId(`many${i}`))), 'all ten in B');
    expect(transactions.length).toBeGreaterThanOrEqual(3);

    // One 30 kB shape: undone locally, never in the doc, reported.
    storeA.put([padded('huge', 30)]);
    await until(() => tooLarge.length > 0, 'the too-large report');
    expect(tooLarge[0]![1]).toBe(createShapeId('huge'));
    expect(tooLarge[0]![0]).toBeGreaterThan(30_000);
    expect(storeA.has(createShapeId('huge'))).toBe(false);
    expect(getRecordsMap(docA).has(createShapeId('huge'))).toBe(false);

    // Editing goes on normally afterwards.
    storeA.put([storeA.schema.types.shape.create(geo('after', 7))]);
    await until(() => storeB.has(createShapeId('after')), 'a later shape in B');
    expect(storeB.has(createShapeId('huge'))).toBe(false);
  });
});

describe('presence', () => {
  it("mirrors a peer's awareness presence as an instance_presence record, and removes it", async () => {
    const docA = new Y.Doc();
    const docB = new Y.Doc();
    const awA = new awarenessProtocol.Awareness(docA);
    const awB = new awarenessProtocol.Awareness(docB);
    cleanups.push(() => (awA.destroy(), awB.destroy()));
    awA.on('update', ({ added, updated, removed }: any) =>
      awarenessProtocol.applyAwarenessUpdate(
        awB,
        awarenessProtocol.encodeAwarenessUpdate(awA, [...added, ...updated, ...removed]),
        'net',
      ),
    );
    const storeA = newStore();
    const storeB = newStore();
    const user = (id: string, name: string, color: string) =>
      atom<TLUser | null>('user', UserRecordType.create({ id: createUserId(id), name, color }));
    const presenceA = bindPresence(storeA, awA, user('alice', 'Alice', '#F2555A'));
    const presenceB = bindPresence(storeB, awB, user('bob', 'Bob', '#02B1CC'));
    cleanups.push(presenceB.dispose);

    storeA.update('pointer:pointer' as any, (p: any) => ({ ...p, x: 42, y: 24 }));
    const id = presenceIdFor(awA.clientID);
    await until(() => (storeB.get(id) as any)?.cursor?.x === 42, "Alice's cursor in B");
    const p = storeB.get(id) as any;
    expect(p).toMatchObject({ userName: 'Alice', color: '#F2555A', userId: 'user:alice', cursor: { x: 42, y: 24 } });
    // B never mirrors itself.
    expect(storeB.has(presenceIdFor(awB.clientID))).toBe(false);

    presenceA.dispose(); // publishes presence: null
    await until(() => !storeB.has(id), "Alice's cursor gone from B");
  });

  it('publishes presence at most ~30 times a second however fast the pointer moves, ending on the latest', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    cleanups.push(() => vi.useRealTimers());
    const aw = new awarenessProtocol.Awareness(new Y.Doc());
    cleanups.push(() => aw.destroy());
    const store = newStore();
    const presence = bindPresence(
      store,
      aw,
      atom<TLUser | null>('user', UserRecordType.create({ id: createUserId('fast'), name: 'Fast', color: '#000000' })),
    );
    cleanups.push(presence.dispose);
    vi.advanceTimersByTime(100);
    let published = 0;
    aw.on('update', (_c: unknown, origin: unknown) => origin === 'local' && published++);

    // One second of pointer events at 1 kHz (a 240 Hz screen delivers a quarter of that).
    for (let i = 1; i <= 1000; i++) {
      store.update('pointer:pointer' as any, (p: any) => ({ ...p, x: i, y: -i }));
      vi.advanceTimersByTime(1);
    }
    vi.advanceTimersByTime(PRESENCE_PUBLISH_INTERVAL_MS);
    expect(published).toBeLessThanOrEqual(1000 / PRESENCE_PUBLISH_INTERVAL_MS + 2);
    expect(published).toBeGreaterThanOrEqual(1000 / PRESENCE_PUBLISH_INTERVAL_MS - 2);
    expect((aw.getLocalState()?.presence as any)?.cursor).toMatchObject({ x: 1000, y: -1000 });
  });
});
