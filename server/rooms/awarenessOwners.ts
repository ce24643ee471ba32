// Who speaks for an awareness (presence) client id in a room: the first socket to announce it,
// until it removes it, leaves the room or disconnects; a socket speaks for at most
// MAX_AWARENESS_IDS_PER_SOCKET ids at once. Entries of an awareness update are judged one by one;
// a refused entry is dropped and the rest applied (docs/architecture.md "Presence").
import { UserInfo } from '../../lib/protocol/events';
import { MAX_AWARENESS_IDS_PER_SOCKET, MAX_AWARENESS_STATE_BYTES } from '../../lib/protocol/limits';
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
  /** socket id → the ids it speaks for (the same, by socket) */
  private readonly bySocket = new Map<string, Set<number>>();
  /** sockets told that their entries for further ids are dropped (told once, not per entry) */
  private readonly toldOverLimit = new Set<string>();

  /** `serverClientID`: the room's own awareness id, which no socket may use. */
  constructor(
    private readonly serverClientID: () => number,
    private readonly maxPerSocket = MAX_AWARENESS_IDS_PER_SOCKET,
  ) {}

  /**
   * Split an update's entries into those `socketId` may apply and the refusals to tell it about.
   * Besides `refuse`'s checks: an entry announcing an id beyond the socket's maxPerSocket is
   * dropped — reported once per socket, later ones silently (the same flood would otherwise
   * produce an error per id) — and a removal of an id nobody speaks for is dropped silently (it
   * has no state to remove; applying it would only leave a clock entry behind).
   */
  judge(entries: readonly AwarenessEntry[], socketId: string): { accepted: AwarenessEntry[]; refused: AwarenessRefusal[] } {
    const accepted: AwarenessEntry[] = [];
    const refused: AwarenessRefusal[] = [];
    /** ids this socket speaks for once the entries accepted so far are applied */
    const mine = new Set(this.bySocket.get(socketId));
    for (const entry of entries) {
      const refusal = this.refuse(entry, socketId);
      if (refusal) {
        refused.push(refusal);
        continue;
      }
      const { clientID, state } = entry;
      if (state === null) {
        if (!mine.delete(clientID)) continue;
      } else if (!mine.has(clientID)) {
        if (mine.size >= this.maxPerSocket) {
          if (this.toldOverLimit.has(socketId)) continue;
          this.toldOverLimit.add(socketId);
          refused.push({
            clientID,
            code: 'too-large',
            message: `awareness client ${clientID} dropped: this connection already speaks for ${mine.size} presence ids in this room, the limit (MAX_AWARENESS_IDS_PER_SOCKET = ${this.maxPerSocket}); entries for further ids are dropped, without more errors, until it removes one of its ids`,
          });
          continue;
        }
        mine.add(clientID);
      }
      accepted.push(entry);
    }
    return { accepted, refused };
  }

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

  /** Record the owners of entries `socketId` applied: a state claims its id, a removal frees it.
   * Returns the ids freed. */
  applied(entries: readonly AwarenessEntry[], socketId: string): number[] {
    const freed: number[] = [];
    for (const { clientID, state } of entries) {
      if (state === null) {
        if (this.owners.get(clientID) !== socketId) continue;
        this.owners.delete(clientID);
        this.bySocket.get(socketId)?.delete(clientID);
        freed.push(clientID);
      } else if (!this.owners.has(clientID)) {
        this.owners.set(clientID, socketId);
        let mine = this.bySocket.get(socketId);
        if (!mine) this.bySocket.set(socketId, (mine = new Set()));
        mine.add(clientID);
      }
    }
    return freed;
  }

  /** The ids `owner` speaks for. */
  idsOf(owner: string): number[] {
    return [...(this.bySocket.get(owner) ?? [])];
  }

  /** Forget every id `socketId` owns; returns them. */
  release(socketId: string): number[] {
    const owned = [...(this.bySocket.get(socketId) ?? [])];
    for (const c of owned) this.owners.delete(c);
    this.bySocket.delete(socketId);
    this.toldOverLimit.delete(socketId);
    return owned;
  }
}
