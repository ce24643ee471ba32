// DecodeGate: latest wins before the queue — per frame one snapshot decodes at a time, one waits,
// a newer arrival replaces the waiting one, and nothing at or below the newest seq decodes.
import { describe, expect, it } from 'vitest';
import { DecodeGate, type DecodeTurn } from '../../server/render/DecodeGate';

describe('DecodeGate', () => {
  it('decodes the first and the latest of a burst, in seq order; the rest is skipped', async () => {
    const gate = new DecodeGate();
    const turns = new Map<number, DecodeTurn>();
    const asked = Array.from({ length: 100 }, (_, i) => gate.turn(i + 1, -1).then((t) => turns.set(i + 1, t)));
    await new Promise((r) => setImmediate(r));
    // seq 1 decodes, 100 waits, 2…99 were replaced while waiting
    expect(turns.get(1)).toBe('go');
    expect([...turns].filter(([, t]) => t === 'superseded').map(([s]) => s)).toEqual(Array.from({ length: 98 }, (_, i) => i + 2));
    expect(turns.has(100)).toBe(false);
    expect(gate.newestSeq).toBe(100);
    gate.done(); // seq 1 decoded
    await Promise.all(asked);
    expect(turns.get(100)).toBe('go');
    gate.done(); // seq 100 decoded: the frame is idle again
    expect(gate.newestSeq).toBe(-1);
    expect(gate.skipped).toBe(98);
  });

  it('skips a snapshot not newer than what the frame has; frames have gates of their own', async () => {
    const f = new DecodeGate();
    const g = new DecodeGate();
    expect(await f.turn(5, 7)).toBe('stale'); // the queue accepted 7 already
    expect(await f.turn(8, 7)).toBe('go');
    expect(await f.turn(8, 7)).toBe('stale'); // 8 is decoding
    expect(await g.turn(1, -1)).toBe('go'); // another frame does not wait for f
    const later = f.turn(9, 7);
    f.done();
    expect(await later).toBe('go');
    expect(f.skipped).toBe(2);
    expect(g.skipped).toBe(0);
  });
});
