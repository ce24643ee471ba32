// Rebuilding a room's document from what the store holds, tolerating damage: every stored part
// (the snapshot, then each logged update in order) is applied on its own, so one unreadable row
// costs only its own changes.
//
// Yjs numbers each client's changes with consecutive clocks and parks every change that comes
// after a gap as "pending", never to be shown. So when a row cannot be read, the rows after it
// from the same client (typically all later edits of the person who made it) would all be parked:
// acknowledged updates silently missing for everyone. Such a gap is filled with a placeholder of
// deleted content (a Yjs GC struct) of exactly the missing clock range, after which the later
// updates integrate. Only the content of the unreadable row — and later edits of exactly that
// content, which refer to it — is lost; the row itself stays in the database (the room does not
// compact while its data is damaged), so it can still be inspected.
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';

export interface StoredParts {
  snapshot: Uint8Array | null;
  updates: Uint8Array[];
  /** the `seq` of each update (same order) */
  seqs: number[];
}

/** A stored part that did not apply (fully), and why. `id` is the update's seq, 'snapshot', or
 * `missing <client>:<from>-<to>` for a clock range filled with a placeholder. */
export interface ReplaySkip {
  id: number | string;
  reason: string;
}

export interface ReplayResult {
  /** stored parts (the snapshot and each update) that applied without error */
  applied: number;
  /** updates in the room's log (besides the snapshot) */
  updates: number;
  snapshot: boolean;
  /** bytes of everything stored for the room */
  bytes: number;
  /** empty when everything applied */
  skipped: ReplaySkip[];
}

/** Gap filling stops after this many rounds (each fills at least one client's gap). */
const MAX_FILL_ROUNDS = 1000;

/** Apply `stored` to `doc` part by part; see the file comment. */
export function replayStored(doc: Y.Doc, stored: StoredParts): ReplayResult {
  const skipped: ReplaySkip[] = [];
  let applied = 0;
  const apply = (bytes: Uint8Array, id: number | string) => {
    try {
      Y.applyUpdate(doc, bytes);
      applied++;
    } catch (e) {
      skipped.push({ id, reason: `unreadable (${(e as Error).message})` });
    }
  };
  if (stored.snapshot) apply(stored.snapshot, 'snapshot');
  stored.updates.forEach((u, i) => apply(u, stored.seqs[i] ?? `#${i}`));

  for (let round = 0; round < MAX_FILL_ROUNDS && doc.store.pendingStructs; round++) {
    const gaps = missingRanges(doc);
    if (gaps.length === 0) break;
    for (const { client, from, to } of gaps) {
      Y.applyUpdate(doc, placeholderUpdate(client, from, to - from));
      skipped.push({
        id: `missing ${client}:${from}-${to - 1}`,
        reason: `changes ${from}..${to - 1} of Yjs client ${client} are not in the store (an unreadable or lost update held them); filled with deleted placeholders so the later changes apply`,
      });
    }
  }
  if (doc.store.pendingStructs) {
    skipped.push({ id: 'pending', reason: 'some stored changes still refer to content that is not in the store; they are kept but not shown' });
  }
  const bytes = (stored.snapshot?.byteLength ?? 0) + stored.updates.reduce((n, u) => n + u.byteLength, 0);
  return { applied, updates: stored.updates.length, snapshot: stored.snapshot !== null, bytes, skipped };
}

interface Gap {
  client: number;
  from: number;
  /** exclusive */
  to: number;
}

/** The clock ranges the pending changes of `doc` wait for: per client, from its state up to its
 * first pending change, or (for a client that has none pending) up to the newest change of it
 * that a pending change refers to. */
function missingRanges(doc: Y.Doc): Gap[] {
  const pending = doc.store.pendingStructs;
  if (!pending) return [];
  const { structs } = Y.decodeUpdateV2(pending.update);
  const firstOwn = new Map<number, number>();
  const needed = new Map<number, number>();
  const need = (id: Y.ID | null | undefined) => {
    if (id) needed.set(id.client, Math.max(needed.get(id.client) ?? 0, id.clock + 1));
  };
  for (const s of structs) {
    if (s instanceof Y.Skip) continue;
    firstOwn.set(s.id.client, Math.min(firstOwn.get(s.id.client) ?? Infinity, s.id.clock));
    if (s instanceof Y.Item) {
      need(s.origin);
      need(s.rightOrigin);
      if (s.parent instanceof Y.ID) need(s.parent);
    }
  }
  const gaps: Gap[] = [];
  for (const client of new Set([...firstOwn.keys(), ...needed.keys()])) {
    const from = Y.getState(doc.store, client);
    const own = firstOwn.get(client);
    const to = own !== undefined ? own : (needed.get(client) ?? 0);
    if (to > from) gaps.push({ client, from, to });
  }
  return gaps;
}

/** A Yjs (v1) update holding one GC struct: `length` clocks of deleted content of `client`
 * starting at `clock`. */
function placeholderUpdate(client: number, clock: number, length: number): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 1); // clients
  encoding.writeVarUint(e, 1); // structs of this client
  encoding.writeVarUint(e, client);
  encoding.writeVarUint(e, clock);
  encoding.writeUint8(e, 0); // GC
  encoding.writeVarUint(e, length);
  encoding.writeVarUint(e, 0); // empty delete set
  return encoding.toUint8Array(e);
}
