// Who speaks for an awareness (presence) client id in a room: the first socket to announce it,
// until it leaves the room or disconnects. Entries of an awareness update are judged one by one;
// a refused entry is dropped and the rest applied (docs/architecture.md "Presence").
import { UserInfo } from '../../lib/protocol/events';
import { MAX_AWARENESS_STATE_BYTES } from '../../lib/protocol/limits';
import type { AwarenessEntry } from './yjsMessages';

/** An awareness entry the room dropped, and why (one line, for the sender). */
export interface AwarenessRefusal {
  clientID: number;
  code: 'invalid-message' | 'too-large';
  message: string;
}

/** Owner of the server's own awareness client id: no socket may speak for it. */
const SERVER_OWNER = '';

export class AwarenessOwners {
  /** awareness clientID → id of the socket that announced it first (and so speaks for it) */
  private readonly owners = new Map<number, string>();

  /** `serverClientID`: the room's own awareness id, which no socket may use. */
  constructor(private readonly serverClientID: () => number) {}

  /** Why `socketId` may not apply this entry, or null. */
  refuse({ clientID, state, json }: AwarenessEntry, socketId: string): AwarenessRefusal | null {
    const owner = clientID === this.serverClientID() ? SERVER_OWNER : this.owners.get(clientID);
    if (owner !== undefined && owner !== socketId) {
      // A reconnecting client whose old socket has not timed out yet lands here too; its next
      // announcement after the old socket is dropped goes through.
      return { clientID, code: 'invalid-message', message: `awareness client ${clientID} belongs to another connection; entry dropped` };
    }
    if (state === null) return null;
    if (json.length > MAX_AWARENESS_STATE_BYTES) {
      return { clientID, code: 'too-large', message: `awareness state of client ${clientID} is ${json.length} bytes, over ${MAX_AWARENESS_STATE_BYTES}; entry dropped` };
    }
    if ('user' in (state as object)) {
      const user = UserInfo.safeParse((state as { user: unknown }).user);
      if (!user.success) {
        const issue = user.error.issues[0];
        const where = issue?.path.length ? `user.${issue.path.join('.')}` : 'user';
        return { clientID, code: 'invalid-message', message: `awareness state of client ${clientID}: ${where}: ${issue?.message ?? 'invalid'}; entry dropped` };
      }
    }
    return null;
  }

  /** Record the owners of entries `socketId` applied: a state claims its id, a removal frees it. */
  applied(entries: readonly AwarenessEntry[], socketId: string): void {
    for (const { clientID, state } of entries) {
      if (state === null) {
        if (this.owners.get(clientID) === socketId) this.owners.delete(clientID);
      } else if (!this.owners.has(clientID)) {
        this.owners.set(clientID, socketId);
      }
    }
  }

  /** Forget every id `socketId` owns; returns them. */
  release(socketId: string): number[] {
    const owned = [...this.owners].filter(([, s]) => s === socketId).map(([c]) => c);
    for (const c of owned) this.owners.delete(c);
    return owned;
  }
}
