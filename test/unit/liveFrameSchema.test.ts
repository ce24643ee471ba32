// The live frame's tldraw record type: validators hold the documented ranges, and records written
// under the looser version 1 are clamped into them by the migration instead of being dropped.
import { createTLStore, defaultBindingUtils, defaultShapeUtils, type TLRecord } from 'tldraw';
import { describe, expect, it } from 'vitest';
import { LiveFrameShapeUtil } from '../../app/live/LiveFrameShapeUtil';
import { defaultLiveFrameProps, LIVE_FRAME_LIMITS, liveFrameRecord } from '../../lib/canvas/liveFrame';
import { liveFrameVersions } from '../../lib/canvas/liveFrameSchema';

const newStore = () =>
  createTLStore({ shapeUtils: [...defaultShapeUtils, LiveFrameShapeUtil], bindingUtils: defaultBindingUtils });

const SEQUENCE = 'com.tldraw.shape.live-frame';

function withProps(props: object): TLRecord {
  return liveFrameRecord('shape:lf', props as never, { parentId: 'page:page' }) as unknown as TLRecord;
}

describe('live frame validators', () => {
  const store = newStore();
  const validate = (props: object) => store.schema.validateRecord(store, withProps(props), 'createRecord', null);

  it('accept the defaults and both ends of every range', () => {
    const L = LIVE_FRAME_LIMITS;
    expect(() => validate(defaultLiveFrameProps())).not.toThrow();
    for (const props of [
      { steps: L.steps.min, seed: L.seed.min, guidance: L.guidance.min, outputSize: L.outputSize.min, strength: 0 },
      { steps: L.steps.max, seed: L.seed.max, guidance: L.guidance.max, outputSize: L.outputSize.max, strength: 1 },
    ]) {
      expect(() => validate(props)).not.toThrow();
    }
  });

  it.each([
    ['steps', 0],
    ['steps', 9],
    ['steps', 2.5],
    ['guidance', -0.5],
    ['guidance', 20.5],
    ['seed', -1],
    ['seed', 2 ** 32],
    ['seed', 1.5],
    ['outputSize', 64],
    ['outputSize', 1088],
    ['outputSize', 300],
    ['strength', -0.1],
    ['strength', 1.01],
    ['prompt', 'x'.repeat(1001)],
  ])('reject %s = %s', (key, value) => {
    expect(() => validate({ [key]: value })).toThrow(new RegExp(key));
  });
});

describe('live frame migration to version 2 (ClampToLimits)', () => {
  it('clamps out-of-range props of a version 1 record into the validated ranges', () => {
    const store = newStore();
    const ours = store.schema.serialize();
    expect(ours.schemaVersion).toBe(2);
    const v1 = { ...ours, sequences: { ...(ours as { sequences: Record<string, number> }).sequences, [SEQUENCE]: 1 } };
    expect(liveFrameVersions.ClampToLimits).toBe(`${SEQUENCE}/2`);

    const old = withProps({ steps: 50, guidance: 99, seed: 2 ** 40, outputSize: 2048, strength: 1.5, prompt: 'fox', w: 500 });
    const r = store.schema.migratePersistedRecord(old, v1 as never, 'up');
    expect(r.type).toBe('success');
    const props = (r as { value: { props: Record<string, unknown> } }).value.props;
    expect(props).toMatchObject({ steps: 8, guidance: 20, seed: 2 ** 32 - 1, outputSize: 1024, strength: 1, prompt: 'fox', w: 500 });
    // and the result is a valid record now
    expect(() => store.schema.validateRecord(store, (r as { value: TLRecord }).value, 'createRecord', null)).not.toThrow();

    const low = store.schema.migratePersistedRecord(withProps({ steps: 0.2, seed: -5, outputSize: 100, guidance: 0 }), v1 as never, 'up');
    expect((low as { value: { props: unknown } }).value.props).toMatchObject({ steps: 1, seed: 0, outputSize: 128, guidance: 0 });
  });

  it('leaves in-range records as they were', () => {
    const store = newStore();
    const ours = store.schema.serialize() as { sequences: Record<string, number> };
    const v1 = { ...ours, sequences: { ...ours.sequences, [SEQUENCE]: 1 } };
    const props = { ...defaultLiveFrameProps(), prompt: 'castle', steps: 4, outputSize: 512 };
    const r = store.schema.migratePersistedRecord(withProps(props), v1 as never, 'up');
    expect((r as { value: { props: unknown } }).value.props).toEqual(props);
  });
});
