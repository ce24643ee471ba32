// Strict decoding of the y-protocols messages clients send, done BEFORE anything touches a room's
// document. Yjs is built to accept any update eventually (structs whose dependencies are missing
// are parked as "pending" and kept — and persisted — forever), so garbage that happens to decode
// would sit in the room. We therefore refuse an update unless every struct and deletion in it
// either refers to something the room already has or to something in the same update.
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';

export class MalformedMessageError extends Error {
  override name = 'MalformedMessageError';
}

/** An update that continues changes of `client` the room does not have (e.g. because it refused
 * the update that carried them). */
export class MissingChangesError extends MalformedMessageError {
  override name = 'MissingChangesError';
  constructor(
    message: string,
    readonly client: number,
  ) {
    super(message);
  }
}

export type SyncMessage =
  | { type: 'step1'; stateVector: Uint8Array }
  | { type: 'step2' | 'update'; update: Uint8Array };

/** Split a y-protocols sync message into its kind and payload; throws MalformedMessageError. */
export function parseSyncMessage(data: Uint8Array): SyncMessage {
  try {
    const decoder = decoding.createDecoder(data);
    const kind = decoding.readVarUint(decoder);
    const payload = decoding.readVarUint8Array(decoder);
    if (decoding.hasContent(decoder)) throw new MalformedMessageError('trailing bytes after the sync message');
    switch (kind) {
      case syncProtocol.messageYjsSyncStep1:
        Y.decodeStateVector(payload); // throws on garbage
        return { type: 'step1', stateVector: payload };
      case syncProtocol.messageYjsSyncStep2:
        return { type: 'step2', update: payload };
      case syncProtocol.messageYjsUpdate:
        return { type: 'update', update: payload };
      default:
        throw new MalformedMessageError(`unknown sync message type ${kind}`);
    }
  } catch (e) {
    if (e instanceof MalformedMessageError) throw e;
    throw new MalformedMessageError(`undecodable sync message (${(e as Error).message})`);
  }
}

export interface CheckedUpdate {
  /** false when the update only deletes (or is empty): it cannot make the document larger */
  inserts: boolean;
  /** the Yjs client ids whose changes it carries */
  clients: number[];
  /** the Yjs client ids it writes new content of (structs beyond what the room has) */
  writers: number[];
  /** the update, decoded (for the checks that follow: documentRules) */
  decoded: ReturnType<typeof Y.decodeUpdate>;
}

/**
 * Decode a Yjs (v1) update completely and check that the document `doc` can integrate all of it
 * now. Throws MalformedMessageError naming the first problem.
 */
export function checkUpdate(doc: Y.Doc, update: Uint8Array): CheckedUpdate {
  let decoded: ReturnType<typeof Y.decodeUpdate>;
  try {
    decoded = Y.decodeUpdate(update);
  } catch (e) {
    throw new MalformedMessageError(`undecodable Yjs update (${(e as Error).message})`);
  }
  // What the room will know per client once this update is in: its own state, extended by this
  // update's structs where they continue it without a gap.
  const known = new Map<number, number>();
  const writers = new Set<number>();
  const knownOf = (client: number) => known.get(client) ?? Y.getState(doc.store, client);
  for (const s of decoded.structs) {
    const { client, clock } = s.id;
    if (s instanceof Y.Skip) continue;
    const have = knownOf(client);
    if (clock > have) {
      throw new MissingChangesError(`update skips changes of client ${client} (has ${clock}, room has ${have})`, client);
    }
    known.set(client, Math.max(have, clock + s.length));
    if (clock + s.length > Y.getState(doc.store, client)) writers.add(client);
  }
  const refersToKnown = (id: Y.ID | null) => id === null || id.clock < knownOf(id.client);
  for (const s of decoded.structs) {
    if (!(s instanceof Y.Item)) continue;
    const parent = s.parent as unknown;
    if (!refersToKnown(s.origin) || !refersToKnown(s.rightOrigin) || (parent instanceof Y.ID && !refersToKnown(parent))) {
      throw new MalformedMessageError('update refers to content the room does not have');
    }
    if (s.origin === null && s.rightOrigin === null && parent === null) {
      throw new MalformedMessageError('update contains an item without a parent');
    }
  }
  for (const [client, deletions] of decoded.ds.clients) {
    const have = knownOf(client);
    for (const d of deletions) {
      if (d.clock + d.len > have) throw new MalformedMessageError('update deletes content the room does not have');
    }
  }
  return { inserts: decoded.structs.some((s) => !(s instanceof Y.Skip)), clients: [...known.keys()], writers: [...writers], decoded };
}

export interface AwarenessEntry {
  clientID: number;
  clock: number;
  /** null = the client left */
  state: unknown;
  /** the state as sent (JSON), to re-encode the entry unchanged */
  json: string;
}

/** Decode a y-protocols awareness update completely (applyAwarenessUpdate would apply the
 * entries before a broken one and then throw). */
export function parseAwarenessUpdate(data: Uint8Array): AwarenessEntry[] {
  try {
    const decoder = decoding.createDecoder(data);
    const n = decoding.readVarUint(decoder);
    const entries: AwarenessEntry[] = [];
    for (let i = 0; i < n; i++) {
      const clientID = decoding.readVarUint(decoder);
      const clock = decoding.readVarUint(decoder);
      const json = decoding.readVarString(decoder);
      const state: unknown = JSON.parse(json);
      if (state !== null && (typeof state !== 'object' || Array.isArray(state))) throw new Error('state is not an object');
      entries.push({ clientID, clock, state, json });
    }
    if (decoding.hasContent(decoder)) throw new Error('trailing bytes');
    return entries;
  } catch (e) {
    throw new MalformedMessageError(`undecodable awareness update (${(e as Error).message})`);
  }
}

/** The y-protocols awareness update carrying exactly `entries` (as parseAwarenessUpdate read them). */
export function encodeAwarenessEntries(entries: readonly AwarenessEntry[]): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, entries.length);
  for (const e of entries) {
    encoding.writeVarUint(encoder, e.clientID);
    encoding.writeVarUint(encoder, e.clock);
    encoding.writeVarString(encoder, e.json);
  }
  return encoding.toUint8Array(encoder);
}
