// A room's commits to the store, one after the other. The doc's 'update' handler is synchronous
// but a commit is not (PostgreSQL answers over the network), so each update's append is queued
// behind the previous one: commits, and the broadcasts that follow them, keep the order in which
// the updates were applied. Compaction runs in the same queue, so its snapshot is encoded after
// every earlier append has committed.
//
// After a failed commit every later write fails too (StoreWriteError): the room stops serving
// and reloads from what the store really holds (Room.storeFailed).
import type { RoomStore } from '../store/RoomStore';

/** The store could not write an update (disk full, I/O error, PostgreSQL unreachable). The change
 * is in the room's memory but not stored, so it must not be treated as saved. */
export class StoreWriteError extends Error {
  override name = 'StoreWriteError';
}

export class RoomWrites {
  private tail: Promise<void> = Promise.resolve();
  private failed: Error | null = null;

  constructor(
    private readonly store: RoomStore,
    private readonly roomId: string,
  ) {}

  /** Commit an update after those queued before it. */
  append(update: Uint8Array): Promise<void> {
    return this.run(async () => {
      try {
        await this.store.appendUpdate(this.roomId, update);
      } catch (e) {
        this.failed ??= e as Error;
        throw this.writeError();
      }
    });
  }

  /** Run `fn` after everything queued so far (compaction). */
  run(fn: () => Promise<void>): Promise<void> {
    const next = this.tail.then(() => {
      if (this.failed) throw this.writeError();
      return fn();
    });
    this.tail = next.catch(() => {});
    return next;
  }

  /** Resolves when everything queued so far is committed; rejects (StoreWriteError) once a commit failed. */
  async settled(): Promise<void> {
    await this.tail;
    if (this.failed) throw this.writeError();
  }

  private writeError(): StoreWriteError {
    return new StoreWriteError(`the server could not save this change (${this.failed!.message}); nothing was acknowledged — reconnecting`);
  }
}
