// FrameQueue's start log: every render start records the seq it started and the newest seq
// accepted for its frame at that moment, so "no render starts for a superseded snapshot" can be
// checked from outside (GET /api/renders/:roomId shows it; test/integration/render.test.ts uses it).
import { describe, expect, it } from 'vitest';
import { FrameQueue, START_LOG_LENGTH, type RenderJob } from '../../server/render/FrameQueue';

type Job = RenderJob<number, null>;

const job = (frameId: string, seq: number): Job => ({ roomId: 'room-aaaaaaaaaa', frameId, seq, image: seq, settings: null, receivedAt: 0 });

/** An engine whose renders finish only when the test says so, in start order. */
function gatedEngine() {
  const gates: (() => void)[] = [];
  const runJob = () => new Promise<number>((resolve) => gates.push(() => resolve(0)));
  const finishNext = async () => {
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
  };
  return { runJob, finishNext, open: () => gates.length };
}

describe('FrameQueue start log', () => {
  it('records, per start, the seq started and the newest accepted seq — always equal', async () => {
    const engine = gatedEngine();
    const s = new FrameQueue<Job, number>({ runJob: engine.runJob });
    // bursts of snapshots (some out of order) between finishes, on two frames sharing the engine
    let seq = 0;
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 5; i++) {
        seq++;
        s.submit(job('a', seq));
        s.submit(job('b', seq + (i % 2 ? -3 : 0))); // every other one is older than the last
      }
      await engine.finishNext();
    }
    while (engine.open() > 0) await engine.finishNext();
    await s.idle();
    for (const frameId of ['a', 'b']) {
      const starts = s.recentStarts('room-aaaaaaaaaa', frameId);
      const c = s.counters('room-aaaaaaaaaa', frameId)!;
      expect(starts.length).toBe(c.started);
      expect(starts.length).toBeGreaterThan(3);
      for (const st of starts) expect(st.seq).toBe(st.newestAcceptedSeq);
      expect(c.startedSuperseded).toBe(0);
      // the last start was the last accepted snapshot: the last state is always rendered
      expect(starts.at(-1)!.seq).toBe(c.lastAcceptedSeq);
    }
  });

  it('keeps the last START_LOG_LENGTH starts of a frame', async () => {
    const s = new FrameQueue<Job, number>({ runJob: async () => 0 });
    for (let seq = 1; seq <= START_LOG_LENGTH + 20; seq++) {
      s.submit(job('a', seq));
      await s.idle();
    }
    const starts = s.recentStarts('room-aaaaaaaaaa', 'a');
    expect(starts.length).toBe(START_LOG_LENGTH);
    expect(starts[0].seq).toBe(21);
    expect(starts.at(-1)).toEqual({ seq: START_LOG_LENGTH + 20, newestAcceptedSeq: START_LOG_LENGTH + 20 });
  });
});
