// FrameQueue with a real (trivial) engine: `runJob` sums the snapshot bytes, and each render
// finishes when the test says so (or after a random short delay), so ordering can be asserted.
import { describe, expect, it } from 'vitest';
import { FrameQueue, type RenderJob, type QueueFrameState } from '../../server/render/FrameQueue';

type Job = RenderJob<Uint8Array, { prompt: string }>;

function job(roomId: string, frameId: string, seq: number): Job {
  return {
    roomId,
    frameId,
    seq,
    image: new Uint8Array([seq & 255, 1, 2]),
    settings: { prompt: `p${seq}` },
    receivedAt: Date.now(),
  };
}

/** An engine whose renders finish only when `finishNext()` is called, in start order. */
function gatedEngine() {
  const started: Job[] = [];
  const gates: (() => void)[] = [];
  const runJob = (j: Job) =>
    new Promise<number>((resolve) => {
      started.push(j);
      gates.push(() => resolve(j.image.reduce((a, b) => a + b, 0)));
    });
  const finishNext = async () => {
    gates.shift()!();
    // let the scheduler's then-callbacks run
    await new Promise((r) => setImmediate(r));
  };
  return { started, runJob, finishNext, open: () => gates.length };
}

describe('FrameQueue', () => {
  it('renders the first and the latest snapshot of a burst, drops the rest', async () => {
    const engine = gatedEngine();
    const results: { seq: number; sum: number }[] = [];
    const s = new FrameQueue<Job, number>({
      runJob: engine.runJob,
      onResult: (j, sum) => results.push({ seq: j.seq, sum }),
    });
    const outcomes = [];
    for (let seq = 0; seq < 100; seq++) outcomes.push(s.submit(job('room-aaaaaaaa', 'f1', seq)));
    expect(outcomes[0]).toBe('accepted');
    expect(outcomes[1]).toBe('accepted');
    expect(outcomes.slice(2).every((o) => o === 'replaced')).toBe(true);
    expect(engine.started.map((j) => j.seq)).toEqual([0]);
    await engine.finishNext();
    expect(engine.started.map((j) => j.seq)).toEqual([0, 99]);
    await engine.finishNext();
    await s.idle();
    expect(results).toEqual([
      { seq: 0, sum: 0 + 3 },
      { seq: 99, sum: 99 + 3 },
    ]);
    expect(s.counters('room-aaaaaaaa', 'f1')).toMatchObject({
      accepted: 100,
      dropped: 98,
      started: 2,
      rendered: 2,
      failed: 0,
      lastRenderedSeq: 99,
    });
  });

  it('ignores snapshots whose seq is not newer than the last accepted one', async () => {
    const engine = gatedEngine();
    const s = new FrameQueue<Job, number>({ runJob: engine.runJob });
    expect(s.submit(job('room-aaaaaaaa', 'f1', 5))).toBe('accepted');
    expect(s.submit(job('room-aaaaaaaa', 'f1', 5))).toBe('stale');
    expect(s.submit(job('room-aaaaaaaa', 'f1', 3))).toBe('stale');
    expect(s.submit(job('room-aaaaaaaa', 'f1', 6))).toBe('accepted');
    // another frame has its own sequence
    expect(s.submit(job('room-aaaaaaaa', 'f2', 1))).toBe('accepted');
    expect(s.counters('room-aaaaaaaa', 'f1')).toMatchObject({ accepted: 2, ignored: 2 });
    while (engine.open()) await engine.finishNext();
    await s.idle();
  });

  it('alternates between two rooms that render at once', async () => {
    const engine = gatedEngine();
    const s = new FrameQueue<Job, number>({ runJob: engine.runJob });
    let seq = 0;
    // Room A floods; room B sends a snapshot whenever the engine is busy — both always have work.
    for (let round = 0; round < 10; round++) {
      s.submit(job('room-aaaaaaaa', 'fa', seq++));
      s.submit(job('room-bbbbbbbb', 'fb', seq++));
      s.submit(job('room-aaaaaaaa', 'fa', seq++));
      await engine.finishNext();
    }
    while (engine.open()) await engine.finishNext();
    await s.idle();
    const rooms = engine.started.map((j) => j.roomId[5]);
    for (let i = 1; i < rooms.length; i++) expect(rooms[i]).not.toBe(rooms[i - 1]);
    expect(rooms.length).toBeGreaterThanOrEqual(10);
  });

  it('shares the engine between rooms, not between frames: a room with 3 frames gets no more turns', async () => {
    const engine = gatedEngine();
    const s = new FrameQueue<Job, number>({ runJob: engine.runJob });
    let seq = 0;
    for (let round = 0; round < 12; round++) {
      for (const f of ['f1', 'f2', 'f3']) s.submit(job('room-aaaaaaaa', f, seq++));
      s.submit(job('room-bbbbbbbb', 'fb', seq++));
      await engine.finishNext();
    }
    const order = engine.started.map((j) => `${j.roomId[5]}${j.frameId}`);
    // af1 starts at once (the engine was free); from then on the rooms alternate and room a's
    // frames take turns among themselves
    expect(order.slice(0, 9)).toEqual(['af1', 'af2', 'bfb', 'af3', 'bfb', 'af1', 'bfb', 'af2', 'bfb']);
    while (engine.open()) await engine.finishNext();
    await s.idle();
  });

  it('takes turns between the frames of one room and never runs one frame twice at once', async () => {
    const engine = gatedEngine();
    const s = new FrameQueue<Job, number>({ runJob: engine.runJob, concurrency: 2 });
    let seq = 0;
    for (let round = 0; round < 6; round++) {
      for (const f of ['f1', 'f2', 'f3']) s.submit(job('room-aaaaaaaa', f, seq++));
      // with concurrency 2, two frames render at once, never the same frame twice
      const running = engine.started.slice(-engine.open());
      expect(new Set(running.map((j) => j.frameId)).size).toBe(running.length);
      expect(engine.open()).toBeLessThanOrEqual(2);
      await engine.finishNext();
    }
    while (engine.open()) await engine.finishNext();
    await s.idle();
    const frames = engine.started.map((j) => j.frameId);
    // every frame got its turn: counts differ by at most one
    const counts = ['f1', 'f2', 'f3'].map((f) => frames.filter((x) => x === f).length);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });

  it('never starts a superseded snapshot and delivers each frame in increasing seq (random timing)', async () => {
    const latest = new Map<string, number>();
    const violations: string[] = [];
    const delivered = new Map<string, number[]>();
    let inFlight = 0;
    let maxInFlight = 0;
    const s = new FrameQueue<Job, number>({
      concurrency: 2,
      runJob: async (j) => {
        const key = `${j.roomId}/${j.frameId}`;
        if (latest.get(key) !== j.seq) violations.push(`${key} started ${j.seq}, latest ${latest.get(key)}`);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, Math.random() * 4));
        inFlight--;
        return j.seq;
      },
      onResult: (j) => {
        const key = `${j.roomId}/${j.frameId}`;
        delivered.set(key, [...(delivered.get(key) ?? []), j.seq]);
      },
    });
    const keys = ['room-aaaaaaaa/f1', 'room-aaaaaaaa/f2', 'room-bbbbbbbb/f1', 'room-cccccccc/f9'];
    const seqs = new Map(keys.map((k) => [k, 0]));
    for (let i = 0; i < 400; i++) {
      const key = keys[Math.floor(Math.random() * keys.length)];
      const seq = seqs.get(key)! + 1 + Math.floor(Math.random() * 3);
      seqs.set(key, seq);
      latest.set(key, seq);
      const [roomId, frameId] = key.split('/');
      s.submit(job(roomId, frameId, seq));
      if (Math.random() < 0.3) await new Promise((r) => setTimeout(r, Math.random() * 3));
    }
    await s.idle();
    expect(violations).toEqual([]);
    expect(maxInFlight).toBeLessThanOrEqual(2);
    for (const key of keys) {
      const got = delivered.get(key) ?? [];
      for (let i = 1; i < got.length; i++) expect(got[i]).toBeGreaterThan(got[i - 1]);
      // the last snapshot is always rendered
      expect(got.at(-1)).toBe(seqs.get(key));
      const [roomId, frameId] = key.split('/');
      const c = s.counters(roomId, frameId)!;
      expect(c.accepted).toBe(c.started + c.dropped);
      expect(c.rendered).toBe(c.started);
    }
  });

  it('reports frame states and recovers after a failed render', async () => {
    const states: QueueFrameState[] = [];
    const errors: string[] = [];
    const s = new FrameQueue<Job, number>({
      runJob: async (j) => {
        await new Promise((r) => setImmediate(r));
        if (j.settings.prompt === 'p1') throw new Error('engine exploded');
        return j.seq;
      },
      onState: (_r, _f, state) => states.push(state),
      onError: (_j, e) => errors.push((e as Error).message),
    });
    s.submit(job('room-aaaaaaaa', 'f1', 1));
    await s.idle();
    expect(s.frameState('room-aaaaaaaa', 'f1')).toBe('error');
    s.submit(job('room-aaaaaaaa', 'f1', 2));
    await s.idle();
    expect(errors).toEqual(['engine exploded']);
    expect(states).toEqual(['queued', 'rendering', 'error', 'queued', 'rendering', 'idle']);
    expect(s.counters('room-aaaaaaaa', 'f1')).toMatchObject({ failed: 1, rendered: 1 });
  });

  it('holds snapshots while paused and starts only the latest of each frame on resume', async () => {
    const engine = gatedEngine();
    const s = new FrameQueue<Job, number>({ runJob: engine.runJob });
    s.setPaused(true);
    for (let seq = 1; seq <= 5; seq++) {
      s.submit(job('room-aaaaaaaa', 'f1', seq));
      s.submit(job('room-bbbbbbbb', 'f1', seq));
    }
    expect(engine.started).toEqual([]);
    expect(s.frameState('room-aaaaaaaa', 'f1')).toBe('queued');
    s.setPaused(false);
    while (engine.open()) await engine.finishNext();
    await s.idle();
    expect(engine.started.map((j) => `${j.roomId[5]}${j.seq}`)).toEqual(['a5', 'b5']);
  });

  it('drops the pending snapshots of a removed room', async () => {
    const engine = gatedEngine();
    const s = new FrameQueue<Job, number>({ runJob: engine.runJob });
    s.submit(job('room-aaaaaaaa', 'f1', 1));
    s.submit(job('room-bbbbbbbb', 'f1', 1));
    s.submit(job('room-aaaaaaaa', 'f1', 2));
    s.removeRoom('room-bbbbbbbb');
    while (engine.open()) await engine.finishNext();
    await s.idle();
    expect(engine.started.map((j) => `${j.roomId}:${j.seq}`)).toEqual(['room-aaaaaaaa:1', 'room-aaaaaaaa:2']);
  });
});
