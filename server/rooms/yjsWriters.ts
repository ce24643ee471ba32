// Who may write content with a Yjs client id in a room: the first connection that does, until it
// leaves the room or disconnects — as for awareness ids (awarenessOwners.ts). Without this, a peer
// that takes another client's id can write at that client's next clock first: Yjs then skips the
// victim's own change at that clock as already known, the victim is acknowledged all the same and
// its content is silently replaced for good (the state vectors agree, nothing ever heals it).
// A page that reconnects keeps its Y.Doc (and id) but gets a new socket: the id passes to it once
// the old socket is gone (a reload gives a new id anyway). Bounded: at most `maxPerSocket` ids per
// connection, and everything is dropped with the room.
/** An update carrying content of a client id another connection (or the server) writes with. */
export class ForeignClientError extends Error {
  override name = 'ForeignClientError';
}

export class YjsWriters {
  /** client id → socket id */
  private readonly owners = new Map<number, string>();
  /** socket id → the client ids it owns */
  private readonly bySocket = new Map<string, Set<number>>();

  constructor(
    private readonly maxPerSocket: number,
    /** the room's own Y.Doc client id (schema repairs): never a client's */
    private readonly serverClientID: () => number,
  ) {}

  /** Throw ForeignClientError unless `socketId` may write new content of every id in `clients`. */
  check(clients: readonly number[], socketId: string): void {
    let fresh = 0;
    for (const c of clients) {
      const owner = c === this.serverClientID() ? '' : this.owners.get(c);
      if (owner === undefined) fresh++;
      else if (owner !== socketId) {
        throw new ForeignClientError(
          `this update writes with Yjs client id ${c}, which belongs to another connection in this room; nothing was applied (a page whose previous connection has not timed out yet gets through once it has; otherwise reload the page)`,
        );
      }
    }
    const owned = this.bySocket.get(socketId)?.size ?? 0;
    if (fresh > 0 && owned + fresh > this.maxPerSocket) {
      throw new ForeignClientError(
        `this update writes with ${owned + fresh} Yjs client ids in total; one connection may use at most ${this.maxPerSocket} in a room; nothing was applied`,
      );
    }
  }

  /** `socketId` wrote new content of `clients` (after check): they are its now. */
  claim(clients: readonly number[], socketId: string): void {
    for (const c of clients) {
      if (this.owners.has(c)) continue;
      this.owners.set(c, socketId);
      let set = this.bySocket.get(socketId);
      if (!set) this.bySocket.set(socketId, (set = new Set()));
      set.add(c);
    }
  }

  /** The connection left: its ids are free again. */
  release(socketId: string): void {
    for (const c of this.bySocket.get(socketId) ?? []) this.owners.delete(c);
    this.bySocket.delete(socketId);
  }
}
