// The socket provider's unsent changes: every local Yjs update is kept, in order, until the server
// acknowledges it (committed to its database). When the reply to the server's step 1 would be over
// the message limit, these updates are what gets sent instead: merged in groups under the limit,
// in order, paced by a byte budget under the server's per-socket one.
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { BYTE_RATE_LIMIT, MAX_YJS_MESSAGE_BYTES } from '../protocol/limits';

/** y-protocols framing of an update message: message type + length varints. */
export const UPDATE_FRAMING_BYTES = 16;
/** Stay under the server's per-socket byte budget with some margin. */
const SEND_BYTES_PER_SECOND = BYTE_RATE_LIMIT.perSecond * 0.75;
const SEND_BURST_BYTES = BYTE_RATE_LIMIT.burst * 0.75;

/** A local update the server has not acknowledged yet. */
interface Pending {
  seq: number;
  update: Uint8Array;
  /** emitted on the current join (or covered by the step 2 sent on it) */
  sent: boolean;
}

/** Unsent updates that fit one message, in order; `bytes` includes the framing. */
export interface OutboxGroup {
  items: readonly Pending[];
  bytes: number;
}

export const encodeUpdateMessage = (update: Uint8Array): Uint8Array => {
  const encoder = encoding.createEncoder();
  syncProtocol.writeUpdate(encoder, update);
  return encoding.toUint8Array(encoder);
};

export class UpdateOutbox {
  private pending: Pending[] = [];
  private seq = 0;

  /** Keeps a local update until it is acknowledged; returns its size as a message. */
  add(update: Uint8Array): number {
    this.pending.push({ seq: ++this.seq, update, sent: false });
    return update.byteLength + UPDATE_FRAMING_BYTES;
  }

  /** Local edits the server has not confirmed storing. */
  get isEmpty(): boolean {
    return this.pending.length === 0;
  }

  /** A new join: whatever was in flight on an earlier one is covered by this join's sync. */
  markAllUnsent(): void {
    for (const p of this.pending) p.sent = false;
  }

  /** The step 2 about to be sent carries every pending update: mark them sent, return their seqs. */
  coverAll(): number[] {
    for (const p of this.pending) p.sent = true;
    return this.pending.map((p) => p.seq);
  }

  /** The next unsent updates, in order, as many as fit one message (at least one), or null. */
  nextGroup(): OutboxGroup | null {
    const unsent = this.pending.filter((p) => !p.sent);
    if (!unsent.length) return null;
    const items: Pending[] = [];
    let bytes = UPDATE_FRAMING_BYTES;
    for (const p of unsent) {
      if (items.length && bytes + p.update.byteLength > MAX_YJS_MESSAGE_BYTES) break;
      items.push(p);
      bytes += p.update.byteLength;
    }
    return { items, bytes };
  }

  /** Marks a group sent and returns its update message (the updates merged when several). */
  take(group: OutboxGroup): Uint8Array {
    const { items } = group;
    const update = items.length === 1 ? items[0]!.update : Y.mergeUpdates(items.map((p) => p.update));
    for (const p of items) p.sent = true;
    return encodeUpdateMessage(update);
  }

  /** Forget every pending update (a view-only page: nothing it holds will ever be sent). */
  clear(): void {
    this.pending = [];
  }

  /** The server stored these: forget them. */
  acknowledged(seqs: readonly number[]): void {
    const done = new Set(seqs);
    this.pending = this.pending.filter((p) => !done.has(p.seq));
  }
}

/** A token bucket for the bytes we send, refilled at 75 % of the server's per-socket rate. */
export class SendBudget {
  private tokens = SEND_BURST_BYTES;
  private at = Date.now();

  /** How long to wait before `bytes` may be sent (0: now); a message over the burst waits for a
   * full bucket. */
  waitMs(bytes: number): number {
    const now = Date.now();
    this.tokens = Math.min(SEND_BURST_BYTES, this.tokens + ((now - this.at) / 1000) * SEND_BYTES_PER_SECOND);
    this.at = now;
    const need = Math.min(bytes, SEND_BURST_BYTES);
    return need <= this.tokens ? 0 : Math.ceil(((need - this.tokens) / SEND_BYTES_PER_SECOND) * 1000);
  }

  /** Spends `bytes` (the balance may go negative: the next sends wait longer). */
  take(bytes: number): void {
    this.waitMs(0); // refill
    this.tokens -= bytes;
  }
}
