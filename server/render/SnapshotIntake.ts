// Latest wins before the scheduler too: every snapshot is decoded in full before it may take its
// frame's slot (validateSnapshot), and a decode costs milliseconds of libuv's small thread pool. So
// per frame at most one snapshot decodes at a time and at most one waits for its turn; a newer
// arrival replaces the waiting one ('superseded'), and a snapshot whose seq is not above the newest
// one the frame already has is not decoded at all ('stale'). A burst of 100 snapshots then costs two decodes, not 100, and
// its last snapshot does not queue behind 98 stale ones. (Without this gate, decodes of one frame
// also finished out of order, so older snapshots reached the scheduler after newer ones.)

export type IntakeTurn =
  /** decode now; call `done()` afterwards, whatever happens */
  | 'go'
  /** its seq is not above the newest the frame already has (accepted, decoding or waiting): skip it */
  | 'stale'
  /** a newer snapshot of the frame came while this one waited for its turn: skip it */
  | 'superseded';

/** Exists while one snapshot of the frame decodes. */
interface Gate {
  /** newest seq that went through `turn` while this gate was open */
  newestSeq: number;
  waiting: { seq: number; resolve: (t: IntakeTurn) => void } | null;
}

export class SnapshotIntake {
  /** gates of frames with a decode in flight; dropped as soon as a frame is idle */
  private readonly gates = new Map<string, Gate>();
  /** roomId → frameId → snapshots skipped (stale or superseded, never decoded) */
  private readonly skippedCount = new Map<string, Map<string, number>>();

  /** Waits for this snapshot's turn to be decoded. `floorSeq` is the newest seq the scheduler has
   * accepted for the frame: nothing at or below it is worth decoding. */
  turn(roomId: string, frameId: string, seq: number, floorSeq: number): Promise<IntakeTurn> {
    const key = gateKey(roomId, frameId);
    let gate = this.gates.get(key);
    if (seq <= Math.max(floorSeq, gate?.newestSeq ?? -1)) {
      this.skip(roomId, frameId);
      return Promise.resolve('stale');
    }
    if (!gate) {
      this.gates.set(key, { newestSeq: seq, waiting: null });
      return Promise.resolve('go');
    }
    gate.newestSeq = seq;
    if (gate.waiting) {
      gate.waiting.resolve('superseded');
      this.skip(roomId, frameId);
    }
    const g = gate;
    return new Promise<IntakeTurn>((resolve) => (g.waiting = { seq, resolve }));
  }

  /** The decode that had the turn is over: the waiting snapshot (if any) goes next. */
  done(roomId: string, frameId: string): void {
    const key = gateKey(roomId, frameId);
    const gate = this.gates.get(key);
    if (!gate) return;
    const next = gate.waiting;
    if (next) {
      gate.waiting = null;
      next.resolve('go');
    } else {
      this.gates.delete(key);
    }
  }

  /** Newest seq of the frame that is decoding or waiting to (-1 when none). */
  newestSeq(roomId: string, frameId: string): number {
    return this.gates.get(gateKey(roomId, frameId))?.newestSeq ?? -1;
  }

  skipped(roomId: string, frameId: string): number {
    return this.skippedCount.get(roomId)?.get(frameId) ?? 0;
  }

  /** Forget a frame's counter (a decode in flight still finishes and calls `done`). */
  forgetFrame(roomId: string, frameId: string): void {
    this.skippedCount.get(roomId)?.delete(frameId);
  }

  forgetRoom(roomId: string): void {
    this.skippedCount.delete(roomId);
  }

  private skip(roomId: string, frameId: string) {
    let frames = this.skippedCount.get(roomId);
    if (!frames) this.skippedCount.set(roomId, (frames = new Map()));
    frames.set(frameId, (frames.get(frameId) ?? 0) + 1);
  }
}

const gateKey = (roomId: string, frameId: string) => `${roomId}\n${frameId}`;
