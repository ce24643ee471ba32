// Latest wins before the queue too: every snapshot is decoded in full before it may take its
// frame's slot (decodeSnapshot), and a decode costs milliseconds of libuv's small thread pool. So
// per frame at most one snapshot decodes at a time and at most one waits for its turn; a newer
// arrival replaces the waiting one ('superseded'), and a snapshot whose seq is not above the newest
// one the frame already has is not decoded at all ('stale'). A burst of 100 snapshots then costs
// two decodes, not 100, and its last snapshot does not queue behind 98 stale ones. (Without this
// gate, decodes of one frame also finished out of order, so older snapshots reached the queue
// after newer ones.) One gate per frame, kept in the frame's state (FrameQueue slot data).

export type DecodeTurn =
  /** decode now; call `done()` afterwards, whatever happens */
  | 'go'
  /** its seq is not above the newest the frame already has (accepted, decoding or waiting): skip it */
  | 'stale'
  /** a newer snapshot of the frame came while this one waited for its turn: skip it */
  | 'superseded';

export class DecodeGate {
  /** snapshots skipped (stale or superseded, never decoded) */
  skipped = 0;
  private decoding = false;
  /** newest seq that asked for a turn while a decode was running; -1 while idle */
  private newest = -1;
  private waiting: { seq: number; resolve: (t: DecodeTurn) => void } | null = null;

  /** Waits for this snapshot's turn to be decoded. `floorSeq` is the newest seq the queue has
   * accepted for the frame: nothing at or below it is worth decoding. */
  turn(seq: number, floorSeq: number): Promise<DecodeTurn> {
    if (seq <= Math.max(floorSeq, this.newest)) {
      this.skipped++;
      return Promise.resolve('stale');
    }
    this.newest = seq;
    if (!this.decoding) {
      this.decoding = true;
      return Promise.resolve('go');
    }
    if (this.waiting) {
      this.waiting.resolve('superseded');
      this.skipped++;
    }
    return new Promise<DecodeTurn>((resolve) => (this.waiting = { seq, resolve }));
  }

  /** The decode that had the turn is over: the waiting snapshot (if any) goes next. */
  done(): void {
    const next = this.waiting;
    if (next) {
      this.waiting = null;
      next.resolve('go');
    } else {
      this.decoding = false;
      this.newest = -1;
    }
  }

  /** Newest seq of the frame that is decoding or waiting to (-1 when none). */
  get newestSeq(): number {
    return this.newest;
  }
}
