// The draw-shape records that sync tests and bench:load write without an editor must be records
// tldraw itself accepts (the browser binding skips invalid ones), or the benchmark measures a room
// nobody could open.
import { createTLSchema } from '@tldraw/tlschema';
import { describe, expect, it } from 'vitest';
import { drawShape } from '../helpers/yclient';

describe('drawShape()', () => {
  const shapeType = createTLSchema().types.shape;

  it('builds distinct records that pass tldraw 5 validation (2,000 for bench:load, 5,000+ for the room size test)', () => {
    const indices = new Set<string>();
    for (let i = 0; i < 6000; i++) {
      const r = drawShape(i);
      expect(() => shapeType.validate(r as never)).not.toThrow();
      indices.add(r.index as string);
    }
    expect(indices.size).toBe(6000);
  });

  it('is rejected by the validator when the index is not a fractional-index key (the check can fail)', () => {
    expect(() => shapeType.validate({ ...drawShape(10), index: 'a0010' } as never)).toThrow();
  });
});
