// SnapshotIntake: latest wins before the scheduler — per frame one snapshot decodes at a time, one
// waits, a newer arrival replaces the waiting one, and nothing at or below the newest seq decodes.
import { describe, expect, it } from 'vitest';
import { SnapshotIntake, type IntakeTurn } from '../../server/render/SnapshotIntake';

const R = 'room-aaaaaaaaaa';

describe('SnapshotIntake', () => {
  it('decodes the first and the latest of a burst, in seq order; the rest is skipped', async () => {
    const intake = new SnapshotIntake();
    const turns = new Map<number, IntakeTurn>();
    const asked = Array.from({ length: 100 }, (_, i) => intake.turn(R, 'f', i + 1, -1).then((t) => turns.set(i + 1, t)));
    await new Promise((r) => setImmediate(r));
    // seq 1 decodes, 100 waits, 2…99 were replaced while waiting
    expect(turns.get(1)).toBe('go');
    expect([...turns].filter(([, t]) => t === 'superseded').map(([s]) => s)).toEqual(Array.from({ length: 98 }, (_, i) => i + 2));
    expect(turns.has(100)).toBe(false);
    expect(intake.newestSeq(R, 'f')).toBe(100);
    intake.done(R, 'f'); // seq 1 decoded
    await Promise.all(asked);
    expect(turns.get(100)).toBe('go');
    intake.done(R, 'f'); // seq 100 decoded: the frame is idle again
    expect(intake.newestSeq(R, 'f')).toBe(-1);
    expect(intake.skipped(R, 'f')).toBe(98);
  });

  it('skips a snapshot not newer than what the frame has, and keeps frames apart', async () => {
    const intake = new SnapshotIntake();
    expect(await intake.turn(R, 'f', 5, 7)).toBe('stale'); // the scheduler accepted 7 already
    expect(await intake.turn(R, 'f', 8, 7)).toBe('go');
    expect(await intake.turn(R, 'f', 8, 7)).toBe('stale'); // 8 is decoding
    expect(await intake.turn(R, 'g', 1, -1)).toBe('go'); // another frame does not wait for f
    const later = intake.turn(R, 'f', 9, 7);
    intake.done(R, 'f');
    expect(await later).toBe('go');
    expect(intake.skipped(R, 'f')).toBe(2);
    intake.forgetRoom(R);
    expect(intake.skipped(R, 'f')).toBe(0);
  });
});
