// Keeps a tldraw store and the shared Y.Doc equal, per the layout in docLayout.ts:
//   local user edits  → one doc.transact(…, origin) per store flush
//   remote doc edits  → store.mergeRemoteChanges (so they are neither undoable nor echoed)
// Records are stored whole (a Y.Map of plain JSON), which makes a concurrent edit of one record
// last-writer-wins — the same granularity tldraw's own sync uses.
import type { RecordsDiff, SerializedSchema, TLRecord, TLStore } from 'tldraw';
import type * as Y from 'yjs';
import { getMetaMap, getRecordsMap, TL_META_SCHEMA, type JsonRecord } from './docLayout';
import { MAX_TRANSACTION_RECORD_BYTES, utf8Length } from './shareLimits';

export interface YjsBindingOptions {
  /** transaction origin for local edits; the binding ignores doc changes carrying it */
  origin?: unknown;
  /** The document was written by a newer version of the app than this one. The binding has
   * stopped (writing would corrupt the newer records); the page should ask for a reload. */
  onIncompatible?: (message: string) => void;
  /** Records written to the doc in one transaction stay below this many bytes (as JSON): a
   * larger local change is split over several transactions, so each Yjs update stays within the
   * server's message limit. Default MAX_TRANSACTION_RECORD_BYTES. */
  maxTransactionBytes?: number;
  /** A single record was larger than `maxTransactionBytes`. It cannot be shared, so the binding
   * undid it in the store (the doc never saw it) and reports its size. */
  onTooLarge?: (bytes: number, recordId: string) => void;
}

export interface YjsBinding {
  readonly origin: unknown;
  dispose(): void;
}

export const NEWER_SCHEMA_MESSAGE = 'Please reload: this room was edited with a newer version of Livecanvas.';

type SchemaV2 = { schemaVersion: 2; sequences: Record<string, number> };

/** True when `theirs` knows a migration (or a record type) that `ours` does not. */
export function isSchemaNewer(theirs: SerializedSchema | undefined, ours: SerializedSchema): boolean {
  if (!theirs || theirs.schemaVersion !== 2 || ours.schemaVersion !== 2) return false;
  const mine = (ours as SchemaV2).sequences;
  return Object.entries((theirs as SchemaV2).sequences).some(
    ([seq, version]) => mine[seq] === undefined || version > mine[seq]!,
  );
}

/** The same migration sequences at the same versions, whatever the key order (the server, which
 * owns tl_meta.schema, builds its schema in another order than the page's store). */
export function sameSchema(a: SerializedSchema | undefined, b: SerializedSchema): boolean {
  if (!a || a.schemaVersion !== 2 || b.schemaVersion !== 2) return JSON.stringify(a) === JSON.stringify(b);
  const x = (a as SchemaV2).sequences;
  const y = (b as SchemaV2).sequences;
  return Object.keys(x).length === Object.keys(y).length && Object.entries(x).every(([k, v]) => y[k] === v);
}

/**
 * Bind `store` to `doc`. Call it after the provider's first sync, so that "the doc is empty"
 * means the room is new: then the doc is seeded with the store's document records (tldraw's
 * default document and page, with fixed ids, so two first visitors seed the same records).
 * Otherwise the store's document records are replaced by the doc's, migrated to our schema.
 */
export function bindTldrawStoreToYjs(
  store: TLStore,
  doc: Y.Doc,
  opts: YjsBindingOptions = {},
): YjsBinding {
  const origin = opts.origin ?? Symbol('tldraw-yjs-binding');
  const yRecords = getRecordsMap(doc);
  const yMeta = getMetaMap(doc);
  const ourSchema = store.schema.serialize();
  const documentTypes = store.scopedTypes.document;
  const isDocumentRecord = (r: { typeName?: unknown } | undefined): r is JsonRecord =>
    !!r && documentTypes.has(r.typeName as TLRecord['typeName']);
  const maxBytes = opts.maxTransactionBytes ?? MAX_TRANSACTION_RECORD_BYTES;
  const unsubs: (() => void)[] = [];
  let stopped = false;

  const stop = () => {
    if (stopped) return;
    stopped = true;
    for (const u of unsubs.splice(0)) u();
  };

  const incompatible = () => {
    stop();
    opts.onIncompatible?.(NEWER_SCHEMA_MESSAGE);
  };

  const docSchema = () => yMeta.get(TL_META_SCHEMA) as SerializedSchema | undefined;

  /** Bring one record from the doc's schema to ours; null if it cannot be (skipped, logged). */
  const migrateIn = (record: JsonRecord): TLRecord | null => {
    const from = docSchema();
    if (!from) return record as unknown as TLRecord;
    const r = store.schema.migratePersistedRecord(record as unknown as TLRecord, from, 'up');
    if (r.type === 'success') return r.value;
    console.warn(`[livecanvas] skipped record ${record.id}: migration failed (${r.reason})`);
    return null;
  };

  /** store.put throws on an invalid record and aborts the whole merge; check one by one first
   * so a single bad record (e.g. of a shape type this build lacks) cannot block the rest. */
  const isValid = (record: TLRecord): boolean => {
    try {
      store.schema.validateRecord(store, record, 'updateRecord', store.get(record.id) ?? null);
      return true;
    } catch (e) {
      console.warn(`[livecanvas] skipped invalid record ${record.id}:`, (e as Error).message);
      return false;
    }
  };

  // ── initial load ──
  if (isSchemaNewer(docSchema(), ourSchema)) {
    incompatible();
    return { origin, dispose: stop };
  }
  if (yRecords.size === 0) {
    doc.transact(() => {
      for (const [id, record] of Object.entries(store.serialize('document'))) {
        yRecords.set(id, record as unknown as JsonRecord);
      }
      yMeta.set(TL_META_SCHEMA, ourSchema);
    }, origin);
  } else {
    // Only document records belong in the store from the doc; anything else in tl_records (a
    // camera, an instance, a presence written by a buggy or hostile client) would overwrite our
    // own session state.
    const stored = Object.fromEntries(
      [...yRecords.entries()].filter(([, r]) => isDocumentRecord(r)),
    ) as unknown as Record<string, TLRecord>;
    const migrated = store.schema.migrateStoreSnapshot({
      store: stored as any,
      schema: docSchema() ?? ourSchema,
    });
    if (migrated.type === 'error') {
      console.error(`[livecanvas] could not migrate the room document: ${migrated.reason}`);
      incompatible();
      return { origin, dispose: stop };
    }
    const records = Object.values(migrated.value).filter(isValid);
    store.mergeRemoteChanges(() => {
      const keep = new Set(records.map((r) => r.id));
      const stale = Object.keys(store.serialize('document')).filter((id) => !keep.has(id as any));
      if (stale.length) store.remove(stale as TLRecord['id'][]);
      store.put(records);
    });
    // Upgrade the doc in place when it was older, so every record in it matches tl_meta's
    // schema (older clients then see a newer schema and stop instead of writing old records).
    if (!sameSchema(docSchema(), ourSchema)) {
      doc.transact(() => {
        for (const r of records) {
          if (r !== stored[r.id]) yRecords.set(r.id, r as unknown as JsonRecord);
        }
        yMeta.set(TL_META_SCHEMA, ourSchema);
      }, origin);
    }
  }

  // ── local → doc ──
  /** Undo, in the store only, records the doc never received. */
  const revert = (ids: TLRecord['id'][], changes: RecordsDiff<TLRecord>) => {
    store.mergeRemoteChanges(() => {
      for (const id of ids) {
        if (changes.added[id]) store.remove([id]);
        else if (changes.updated[id]) store.put([changes.updated[id]![0]]);
      }
    });
  };

  unsubs.push(
    store.listen(
      ({ changes }) => {
        const writes = [...Object.values(changes.added), ...Object.values(changes.updated).map(([, to]) => to)];
        const removed = Object.values(changes.removed).map((r) => r.id);
        // Sizes as JSON: a Yjs update encodes the same values a little more compactly.
        const sized = writes.map((r) => ({ r, bytes: utf8Length(JSON.stringify(r)) + r.id.length }));
        const tooLarge = sized.filter((s) => s.bytes > maxBytes);
        if (tooLarge.length) {
          revert(tooLarge.map((s) => s.r.id), changes);
          for (const s of tooLarge) opts.onTooLarge?.(s.bytes, s.r.id);
        }
        // Bindings last, so a peer applying the chunks one by one never sees one before its shapes.
        const fits = sized
          .filter((s) => s.bytes <= maxBytes)
          .sort((a, b) => Number(a.r.typeName === 'binding') - Number(b.r.typeName === 'binding'));
        const chunks: (typeof sized)[] = [[]];
        let chunkBytes = 0;
        for (const s of fits) {
          if (chunkBytes + s.bytes > maxBytes) {
            chunks.push([]);
            chunkBytes = 0;
          }
          chunks[chunks.length - 1]!.push(s);
          chunkBytes += s.bytes;
        }
        chunks.forEach((chunk, i) => {
          if (!chunk.length && (i > 0 || !removed.length)) return;
          doc.transact(() => {
            if (i === 0) for (const id of removed) yRecords.delete(id);
            for (const { r } of chunk) yRecords.set(r.id, r as unknown as JsonRecord);
          }, origin);
        });
      },
      { source: 'user', scope: 'document' },
    ),
  );

  // ── doc → local ──
  const onRecords = (event: Y.YMapEvent<JsonRecord>, tx: Y.Transaction) => {
    if (tx.origin === origin) return;
    const toPut: TLRecord[] = [];
    const toRemove: TLRecord['id'][] = [];
    for (const [id, change] of event.changes.keys) {
      if (change.action === 'delete') {
        if (isDocumentRecord(change.oldValue) && store.has(id as TLRecord['id'])) toRemove.push(id as TLRecord['id']);
        continue;
      }
      const raw = yRecords.get(id);
      if (!isDocumentRecord(raw)) continue;
      const record = migrateIn(raw);
      if (record && isValid(record)) toPut.push(record);
    }
    if (!toPut.length && !toRemove.length) return;
    store.mergeRemoteChanges(() => {
      if (toRemove.length) store.remove(toRemove);
      if (toPut.length) store.put(toPut);
    });
  };
  yRecords.observe(onRecords);
  unsubs.push(() => yRecords.unobserve(onRecords));

  const onMeta = (_event: Y.YMapEvent<unknown>, tx: Y.Transaction) => {
    if (tx.origin !== origin && isSchemaNewer(docSchema(), ourSchema)) incompatible();
  };
  yMeta.observe(onMeta);
  unsubs.push(() => yMeta.unobserve(onMeta));

  return { origin, dispose: stop };
}
