// The server owns tl_meta.schema and writes it in its own key order (createTLSchema's); the page's
// binding must take that as the current schema, not as a different one to "upgrade" — otherwise
// every tab would rewrite the schema entry on every load.
import { createTLStore, defaultBindingUtils, defaultShapeUtils, type TLStore } from 'tldraw';
import * as Y from 'yjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { getMetaMap, getRecordsMap, TL_META_SCHEMA } from '../../lib/canvas/docLayout';
import { bindTldrawStoreToYjs, sameSchema } from '../../lib/canvas/tldrawYjsBinding';

beforeAll(() => {
  globalThis.requestAnimationFrame ??= ((cb: FrameRequestCallback) =>
    setTimeout(() => cb(Date.now()), 1) as unknown as number) as typeof requestAnimationFrame;
  globalThis.cancelAnimationFrame ??= ((id: number) => clearTimeout(id)) as typeof cancelAnimationFrame;
});

function newStore(): TLStore {
  const store = createTLStore({ shapeUtils: defaultShapeUtils, bindingUtils: defaultBindingUtils });
  (store as unknown as { ensureStoreIsUsable(): void }).ensureStoreIsUsable();
  return store;
}

describe('binding and the server-owned schema', () => {
  it('sameSchema ignores key order and sees a changed version', () => {
    const ours = newStore().schema.serialize() as { schemaVersion: 2; sequences: Record<string, number> };
    const reversed = { schemaVersion: 2 as const, sequences: Object.fromEntries(Object.entries(ours.sequences).reverse()) };
    expect(sameSchema(reversed, ours)).toBe(true);
    expect(sameSchema({ ...ours, sequences: { ...ours.sequences, 'com.tldraw.store': 99 } }, ours)).toBe(false);
    const { 'com.tldraw.store': _, ...fewer } = ours.sequences;
    expect(sameSchema({ schemaVersion: 2, sequences: fewer }, ours)).toBe(false);
    expect(sameSchema(undefined, ours)).toBe(false);
  });

  it('a document holding the current schema in another key order is not rewritten on load', () => {
    const seed = newStore();
    const doc = new Y.Doc();
    const ours = seed.schema.serialize() as { schemaVersion: 2; sequences: Record<string, number> };
    doc.transact(() => {
      for (const [id, r] of Object.entries(seed.serialize('document'))) getRecordsMap(doc).set(id, r as never);
      getMetaMap(doc).set(TL_META_SCHEMA, { schemaVersion: 2, sequences: Object.fromEntries(Object.entries(ours.sequences).reverse()) });
    });
    const writes: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => writes.push(u));
    const binding = bindTldrawStoreToYjs(newStore(), doc);
    binding.dispose();
    expect(writes).toEqual([]);
  });
});
