// Where the tldraw document lives inside the shared Y.Doc (see docs/architecture.md). Client and
// server both read these, so the names exist once.
import type * as Y from 'yjs';

/** record id → tldraw record (plain JSON), every record of `document` scope */
export const TL_RECORDS_KEY = 'tl_records';
/** `'schema'` → the tldraw SerializedSchema of the last writer that upgraded the document */
export const TL_META_KEY = 'tl_meta';
export const TL_META_SCHEMA = 'schema';

export type JsonRecord = { id: string; typeName: string } & Record<string, unknown>;

export const getRecordsMap = (doc: Y.Doc) => doc.getMap<JsonRecord>(TL_RECORDS_KEY);
export const getMetaMap = (doc: Y.Doc) => doc.getMap<unknown>(TL_META_KEY);
