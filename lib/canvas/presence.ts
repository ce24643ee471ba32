// Live cursors: the local tldraw presence goes into awareness (`presence` field), and every peer's
// awareness presence becomes an `instance_presence` record in our store, which tldraw renders as a
// cursor with the peer's name and colour. A peer whose awareness `user` says `role: 'viewer'` is
// shown as a viewer: "(viewer)" after its name.
import {
  createPresenceStateDerivation,
  InstancePresenceRecordType,
  react,
  type Signal,
  type TLInstancePresence,
  type TLStore,
  type TLUser,
} from 'tldraw';
import type { Awareness } from 'y-protocols/awareness';
import type { Role } from '../protocol/access';
import type { UserInfo } from '../protocol/events';

/** The awareness `user` field: name and colour (checked by the server), and the role the page was
 * granted when it is a viewer (shown to others; the server enforces the role, not this field). */
export type AwarenessUser = UserInfo & { role?: Role };

/** How a viewer's name appears on its cursor and in the participant list. */
export const viewerLabel = (name: string) => `${name} (viewer)`;

const isViewer = (state: unknown) =>
  (state as { user?: { role?: unknown } } | undefined)?.user?.role === 'viewer';

/** ~30 Hz: smooth enough for a cursor, an eighth of what per-frame publishing costs at 240 Hz. */
export const PRESENCE_PUBLISH_INTERVAL_MS = 33;

/** The presence record id of an awareness client. Derived from the awareness client id (not
 * taken from the peer's message) so a peer can only ever move its own cursor. */
export const presenceIdFor = (clientId: number) => InstancePresenceRecordType.createId(String(clientId));

export interface PresenceBinding {
  dispose(): void;
}

/**
 * Publish our presence and mirror the peers'. `$user` is the local participant as a tldraw user
 * record (its id must equal the editor's `user.getRecordId()`, so tldraw knows which presence
 * is ours).
 */
export function bindPresence(
  store: TLStore,
  awareness: Awareness,
  $user: Signal<TLUser | null>,
): PresenceBinding {
  const selfId = awareness.clientID;
  const $presence = createPresenceStateDerivation($user, { instanceId: presenceIdFor(selfId) })(store);

  // Pointer moves change the presence many times per frame, and frames come at up to 240/s on
  // fast screens; every publish is a message to every peer. Publish at most every
  // PRESENCE_PUBLISH_INTERVAL_MS, always ending with the latest state.
  let timer: ReturnType<typeof setTimeout> | null = null;
  let lastPublished = -Infinity;
  const publish = () => {
    timer = null;
    lastPublished = Date.now();
    awareness.setLocalStateField('presence', $presence.get());
  };
  const stopPublishing = react('publish presence to awareness', () => {
    $presence.get();
    if (timer === null) timer = setTimeout(publish, Math.max(0, lastPublished + PRESENCE_PUBLISH_INTERVAL_MS - Date.now()));
  });

  const mirrored = new Set<number>();
  const apply = (clientIds: Iterable<number>) => {
    const states = awareness.getStates();
    const toPut: TLInstancePresence[] = [];
    const toRemove: TLInstancePresence['id'][] = [];
    for (const clientId of clientIds) {
      if (clientId === selfId) continue;
      const raw = states.get(clientId)?.presence as TLInstancePresence | null | undefined;
      const id = presenceIdFor(clientId);
      if (!raw) {
        if (mirrored.delete(clientId) && store.has(id)) toRemove.push(id);
        continue;
      }
      const record = { ...raw, id, typeName: 'instance_presence' } as TLInstancePresence;
      if (isViewer(states.get(clientId)) && typeof record.userName === 'string') record.userName = viewerLabel(record.userName);
      try {
        store.schema.validateRecord(store, record, 'updateRecord', store.get(id) ?? null);
      } catch {
        continue; // a peer on another schema version; its cursor is not worth an error
      }
      mirrored.add(clientId);
      toPut.push(record);
    }
    if (!toPut.length && !toRemove.length) return;
    store.mergeRemoteChanges(() => {
      if (toRemove.length) store.remove(toRemove);
      if (toPut.length) store.put(toPut);
    });
  };

  const onChange = ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }) =>
    apply([...added, ...updated, ...removed]);
  awareness.on('change', onChange);
  apply(awareness.getStates().keys());

  return {
    dispose() {
      stopPublishing();
      if (timer !== null) clearTimeout(timer);
      awareness.off('change', onChange);
      awareness.setLocalStateField('presence', null);
      const ids = [...mirrored].map(presenceIdFor).filter((id) => store.has(id));
      mirrored.clear();
      if (ids.length) store.mergeRemoteChanges(() => store.remove(ids));
    },
  };
}
