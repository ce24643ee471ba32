// What a client may write into the tldraw part of a room's document (docs/architecture.md "Shared
// document layout"), checked on the decoded update BEFORE it touches the document:
//   tl_records: key → a valid tldraw record of document scope whose id is the key (tldraw's own
//               validators, with the live-frame shape), stored as plain JSON;
//   tl_meta:    only 'schema', and only this server's schema (the server owns it).
// Yjs cannot roll a transaction back, so the checks work on the update itself: each new item's
// map and key are found from its parent info or, when the update leaves them out (a Y.Map set of
// an existing key only names the previous value, its "origin"), from its neighbours — in the same
// update or already in the document — the way Yjs itself infers them when it integrates the item.
// Other root types are not tldraw's and are left alone.
import * as Y from 'yjs';
import { TL_META_KEY, TL_META_SCHEMA, TL_RECORDS_KEY, getMetaMap } from '../../lib/canvas/docLayout';
import { isServerSchema, recordProblem } from './tldrawSchema';

/** A change the document layout does not allow; the whole update is refused, nothing applied. */
export class InvalidChangeError extends Error {
  override name = 'InvalidChangeError';
}

export type DecodedUpdate = ReturnType<typeof Y.decodeUpdate>;
type DeleteSet = DecodedUpdate['ds'];

/** Where an item lands: a root type and its map key (null: list content), possibly inside a
 * nested type; null when Yjs will garbage-collect it on arrival (its neighbours are collected). */
type Place = { root: string; key: string | null; nested: boolean } | null;

const OURS = new Set([TL_RECORDS_KEY, TL_META_KEY]);

/** Throw InvalidChangeError unless every change `update` makes to tl_records and tl_meta is
 * allowed. Returns whether it writes tl_meta at all. */
export function checkDocumentChanges(doc: Y.Doc, update: DecodedUpdate): { touchesMeta: boolean } {
  const places = new Locator(doc, update.structs);
  let touchesMeta = false;
  let writesSchema = false;
  for (const s of update.structs) {
    if (!(s instanceof Y.Item) || places.isKnown(s)) continue;
    const place = places.of(s);
    if (place === null || !OURS.has(place.root)) continue;
    const where = `${place.root}${place.key === null ? '' : `[${JSON.stringify(place.key)}]`}`;
    if (place.nested) throw new InvalidChangeError(`${where}: nested shared types are not part of the document layout`);
    if (place.key === null) throw new InvalidChangeError(`${place.root} is a map of records; list content is not allowed there`);
    if (place.root === TL_META_KEY) touchesMeta = true;
    if (s.content instanceof Y.ContentDeleted) continue;
    if (!(s.content instanceof Y.ContentAny) || s.content.arr.length !== 1) {
      throw new InvalidChangeError(`${where}: values must be plain JSON records (got ${s.content.constructor.name})`);
    }
    const value = s.content.arr[0];
    if (place.root === TL_RECORDS_KEY) {
      const problem = recordProblem(place.key, value);
      if (problem) throw new InvalidChangeError(`invalid record ${problem}`);
    } else if (place.key !== TL_META_SCHEMA) {
      throw new InvalidChangeError(`${TL_META_KEY} holds only ${JSON.stringify(TL_META_SCHEMA)}; ${where} is not allowed`);
    } else if (!isServerSchema(value)) {
      throw new InvalidChangeError(
        `${TL_META_KEY}.${TL_META_SCHEMA} is owned by the server: only this server's tldraw schema may be written there (it upgrades older rooms itself when they load)`,
      );
    } else if (!deletes(update.ds, s.id)) {
      writesSchema = true;
    }
  }
  // The schema entry may be replaced (by the current schema, above), never removed.
  const current = getMetaMap(doc)._map.get(TL_META_SCHEMA);
  if (current && !current.deleted && deletes(update.ds, current.id)) {
    touchesMeta = true;
    if (!writesSchema) throw new InvalidChangeError(`${TL_META_KEY}.${TL_META_SCHEMA} is owned by the server and cannot be deleted`);
  }
  return { touchesMeta };
}

/** Whether the delete set covers `id` (a linear scan: a client's delete set need not be sorted). */
function deletes(ds: DeleteSet, id: Y.ID): boolean {
  const ranges = ds.clients.get(id.client);
  return !!ranges && ranges.some((d) => id.clock >= d.clock && id.clock < d.clock + d.len);
}

/** Finds where the items of one update land in `doc`. */
class Locator {
  /** the update's structs by client, in clock order */
  private readonly byClient = new Map<number, Array<Y.Item | Y.GC>>();
  private readonly memo = new Map<Y.Item, Place>();

  constructor(
    private readonly doc: Y.Doc,
    structs: ReadonlyArray<Y.Item | Y.GC | Y.Skip>,
  ) {
    for (const s of structs) {
      if (s instanceof Y.Skip) continue;
      let list = this.byClient.get(s.id.client);
      if (!list) this.byClient.set(s.id.client, (list = []));
      list.push(s);
    }
  }

  /** The document already has all of `s`: Yjs skips it, so it changes nothing. */
  isKnown(s: Y.Item | Y.GC): boolean {
    return s.id.clock + s.length <= Y.getState(this.doc.store, s.id.client);
  }

  /** Where `item` (of the update) lands. Iterative: an update may hold a long chain of items
   * each placed by the one before it. */
  of(item: Y.Item): Place {
    const chain: Array<{ item: Y.Item; viaParent: boolean }> = [];
    let cur: Y.Item = item;
    let place: Place;
    for (;;) {
      const memo = this.memo.get(cur);
      if (memo !== undefined) {
        place = memo;
        break;
      }
      const step = this.step(cur);
      if (!('next' in step)) {
        place = step.place;
        this.memo.set(cur, place);
        break;
      }
      chain.push({ item: cur, viaParent: step.viaParent });
      cur = step.next;
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const link = chain[i]!;
      if (link.viaParent && place !== null) place = { root: place.root, key: null, nested: true };
      this.memo.set(link.item, place);
    }
    return place;
  }

  /** One step: the place of `item` itself, or the update item it takes its place from. */
  private step(item: Y.Item): { place: Place } | { next: Y.Item; viaParent: boolean } {
    if (typeof item.parent === 'string') return { place: { root: item.parent, key: item.parentSub, nested: false } };
    if (item.parent instanceof Y.ID) {
      const parent = this.find(item.parent);
      if (!parent || !(parent.struct instanceof Y.Item)) return { place: null };
      if (!parent.inDoc) return { next: parent.struct, viaParent: true };
      const p = this.placeInDoc(parent.struct);
      return { place: p && { root: p.root, key: null, nested: true } };
    }
    // No parent info: Yjs takes it from the left neighbour, else the right one; if either is
    // garbage-collected the item is collected too.
    const left = item.origin ? this.find(item.origin) : undefined;
    const right = item.rightOrigin ? this.find(item.rightOrigin) : undefined;
    if (left?.struct instanceof Y.GC || right?.struct instanceof Y.GC) return { place: null };
    const from = left ?? right;
    if (!from) return { place: null };
    const struct = from.struct as Y.Item;
    if (!from.inDoc) return { next: struct, viaParent: false };
    return { place: this.placeInDoc(struct) };
  }

  /** The struct holding `id`: the document's when it has it, else the update's. */
  private find(id: Y.ID): { struct: Y.Item | Y.GC; inDoc: boolean } | undefined {
    if (id.clock < Y.getState(this.doc.store, id.client)) {
      const structs = this.doc.store.clients.get(id.client)!;
      return { struct: structs[Y.findIndexSS(structs, id.clock)]!, inDoc: true };
    }
    const list = this.byClient.get(id.client);
    if (!list) return undefined;
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = list[mid]!;
      if (id.clock < s.id.clock) hi = mid - 1;
      else if (id.clock >= s.id.clock + s.length) lo = mid + 1;
      else return { struct: s, inDoc: false };
    }
    return undefined;
  }

  /** Where an item of the document is. */
  private placeInDoc(item: Y.Item): Place {
    const parent = item.parent as Y.AbstractType<unknown> | null;
    if (!parent) return null;
    if (parent._item === null) return { root: rootName(this.doc, parent), key: item.parentSub, nested: false };
    let top: Y.AbstractType<unknown> = parent;
    while (top._item !== null) top = top._item.parent as Y.AbstractType<unknown>;
    return { root: rootName(this.doc, top), key: null, nested: true };
  }
}

function rootName(doc: Y.Doc, type: Y.AbstractType<unknown>): string {
  for (const [name, t] of doc.share) if (t === type) return name;
  return '';
}
