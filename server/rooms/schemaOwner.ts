// The server owns tl_meta.schema: clients may only write this build's schema there (documentRules),
// and when a room loads its stored schema is brought to this build's:
//   older    → the server migrates the records with tldraw's migrations and writes them back with
//              the current schema (so no client ever meets an older document, and a client can
//              never mark old records current without migrating them);
//   newer or unreadable → repaired: set to this build's schema, records untouched, logged with
//              the room id and the old value (a room poisoned before the server owned the entry
//              would otherwise show "Please reload: … newer version" to everyone, forever; a real
//              downgrade of the server lands here too — records this build cannot read are then
//              skipped by the clients, and stay in the document);
//   missing  → left alone: the page seeds an empty room with its records and the schema together,
//              and treats records without a schema as current.
// The changes are ordinary document changes by the server: stored, and broadcast like a client's.
import type * as Y from 'yjs';
import { TL_META_SCHEMA, getMetaMap, getRecordsMap, type JsonRecord } from '../../lib/canvas/docLayout';
import type { Logger } from '../logger';
import { SERVER_SCHEMA, schemaState, tlSchema } from './tldrawSchema';

/** Transaction origin of the server's own schema writes. */
export const SCHEMA_OWNER_ORIGIN = Symbol('schema owner');

const preview = (v: unknown) => {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
};

/** Bring the stored schema of `doc` (room `roomId`) to this build's; see the file comment.
 * `afterUpdate`: called after a client's update touched tl_meta, where a missing entry (removed by
 * an update the checks could not see through) is put back. */
export function ownSchema(doc: Y.Doc, roomId: string, log: Logger, afterUpdate = false): void {
  const meta = getMetaMap(doc);
  const stored = meta.get(TL_META_SCHEMA);
  const state = schemaState(stored);
  if (state === 'current' || (state === 'missing' && !afterUpdate)) return;
  if (state === 'older') {
    migrate(doc, roomId, stored, log);
    return;
  }
  doc.transact(() => meta.set(TL_META_SCHEMA, SERVER_SCHEMA), SCHEMA_OWNER_ORIGIN);
  log.warn(
    { room: roomId, stored: preview(stored) },
    `ROOM SCHEMA REPAIRED: room ${roomId} had ${state === 'missing' ? 'no tl_meta.schema after an update' : `a tl_meta.schema ${state === 'newer' ? 'newer than this build' : 'that cannot be read'}`}; it now holds this server's schema (records untouched)`,
  );
}

/** Migrate the document records of a room stored with an older schema, in one transaction. */
function migrate(doc: Y.Doc, roomId: string, stored: unknown, log: Logger): void {
  const records = getRecordsMap(doc);
  const docRecords: Record<string, JsonRecord> = {};
  for (const [id, r] of records.entries()) {
    const type = r && typeof r === 'object' && typeof r.typeName === 'string' ? tlSchema.types[r.typeName as never] : undefined;
    if (r.id === id && (type as { scope?: string } | undefined)?.scope === 'document') docRecords[id] = r;
  }
  const result = tlSchema.migrateStoreSnapshot({ store: docRecords as never, schema: stored as never });
  if (result.type !== 'success') {
    log.error({ room: roomId, stored: preview(stored), reason: result.reason }, `room ${roomId}: could not migrate its records from the stored schema; left as is`);
    return;
  }
  const migrated = result.value as unknown as Record<string, JsonRecord>;
  let changed = 0;
  doc.transact(() => {
    for (const [id, r] of Object.entries(migrated)) {
      if (JSON.stringify(r) === JSON.stringify(docRecords[id])) continue;
      records.set(id, r);
      changed++;
    }
    for (const id of Object.keys(docRecords)) {
      if (Object.hasOwn(migrated, id)) continue;
      records.delete(id);
      changed++;
    }
    getMetaMap(doc).set(TL_META_SCHEMA, SERVER_SCHEMA);
  }, SCHEMA_OWNER_ORIGIN);
  log.info({ room: roomId, records: Object.keys(docRecords).length, changed }, 'room migrated to the current schema');
}
