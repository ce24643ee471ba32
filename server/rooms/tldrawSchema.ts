// The tldraw schema of this build, on the server: the same record types, validators and
// migrations as the room page's store (tldraw's default shapes and bindings plus the live frame),
// so the server can own tl_meta.schema and validate every record a client writes, as tldraw's own
// server-authoritative sync does.
import { createTLSchema, defaultBindingSchemas, defaultShapeSchemas, type TLRecord } from '@tldraw/tlschema';
import type { SerializedSchema } from '@tldraw/store';
import { LIVE_FRAME_TYPE } from '../../lib/canvas/liveFrame';
// Imports tldraw's runtime (its validators and migration helpers); ~0.5 s and ~50 MB at start.
import { liveFrameShapeMigrations, liveFrameShapeProps } from '../../lib/canvas/liveFrameSchema';

export const tlSchema = createTLSchema({
  shapes: { ...defaultShapeSchemas, [LIVE_FRAME_TYPE]: { props: liveFrameShapeProps, migrations: liveFrameShapeMigrations } },
  bindings: defaultBindingSchemas,
});

type SchemaV2 = { schemaVersion: 2; sequences: Record<string, number> };

/** What tl_meta.schema is written as by this build. */
export const SERVER_SCHEMA = tlSchema.serialize() as SchemaV2;

/** How a stored schema compares with this build's. */
export type SchemaState = 'missing' | 'current' | 'older' | 'newer' | 'invalid';

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The same migration sequences at the same versions (key order does not matter). */
export function isServerSchema(value: unknown): boolean {
  if (!isPlainObject(value) || value.schemaVersion !== 2 || !isPlainObject(value.sequences)) return false;
  if (Object.keys(value).some((k) => k !== 'schemaVersion' && k !== 'sequences')) return false;
  const theirs = value.sequences;
  const ours = SERVER_SCHEMA.sequences;
  const keys = Object.keys(theirs);
  return keys.length === Object.keys(ours).length && keys.every((k) => Object.hasOwn(ours, k) && theirs[k] === ours[k]);
}

export function schemaState(value: unknown): SchemaState {
  if (value === undefined) return 'missing';
  if (isServerSchema(value)) return 'current';
  if (!isPlainObject(value)) return 'invalid';
  if (value.schemaVersion === 2) {
    if (!isPlainObject(value.sequences)) return 'invalid';
    const seqs = Object.entries(value.sequences);
    if (seqs.some(([, v]) => typeof v !== 'number' || !Number.isInteger(v) || v < 0)) return 'invalid';
    const ours = SERVER_SCHEMA.sequences;
    if (seqs.some(([k, v]) => !Object.hasOwn(ours, k) || (v as number) > ours[k]!)) return 'newer';
  } else if (value.schemaVersion !== 1) {
    return 'invalid';
  }
  // Older (or tldraw's v1 format): only if tldraw knows how to migrate from it.
  return tlSchema.getMigrationsSince(value as unknown as SerializedSchema).ok ? 'older' : 'invalid';
}

/** Why `record`, stored under `key` in tl_records, is not a valid document record; null if it is.
 * (The key is not required to equal the record's id: the tests and benchmarks write records
 * under other keys, and the page's binding reads the record's own id.) */
export function recordProblem(key: string, record: unknown): string | null {
  if (!isPlainObject(record)) return `${key}: not a record (a JSON object)`;
  const typeName = record.typeName;
  const type = typeof typeName === 'string' && Object.hasOwn(tlSchema.types, typeName) ? tlSchema.types[typeName as TLRecord['typeName']] : undefined;
  if (!type) return `${key}: unknown record type ${JSON.stringify(typeName)}`;
  if (type.scope !== 'document') return `${key}: ${typeName} records are ${type.scope} state and do not belong in the document`;
  try {
    type.validate(record);
    return null;
  } catch (e) {
    return `${key}: ${(e as Error).message.split('\n')[0]}`;
  }
}
