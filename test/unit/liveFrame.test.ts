import { describe, expect, it } from 'vitest';
import {
  defaultLiveFrameProps,
  hashString,
  liveFrameContentHash,
  normalizeOutputSize,
  outputSizeChoices,
  parseLiveFrameProps,
  randomSeed,
  readLiveFrameRecord,
  relativeRenderCost,
  renderSizeForFrame,
  stableStringify,
  strengthZone,
  suggestedStepsForModel,
} from '../../lib/canvas/liveFrame';

describe('live frame defaults', () => {
  it('match the documented CPU defaults', () => {
    const d = defaultLiveFrameProps(() => 0.5);
    expect(d).toEqual({
      w: 320,
      h: 320,
      prompt: '',
      strength: 0.5,
      steps: 1,
      seed: 2 ** 30,
      seedLocked: true,
      guidance: 8,
      model: '',
      outputSize: 256,
      view: 'frame',
      control: 'none',
      controlScale: 1,
      controlStart: 0,
      controlEnd: 1,
    });
  });

  it('read control settings leniently: unknown kinds, out-of-range scales and an empty range fall back', () => {
    expect(parseLiveFrameProps({ control: 'scribble', controlScale: 1.5, controlStart: 0.2, controlEnd: 0.8 })).toMatchObject({
      control: 'scribble',
      controlScale: 1.5,
      controlStart: 0.2,
      controlEnd: 0.8,
    });
    expect(parseLiveFrameProps({ control: 'depth', controlScale: 9, controlStart: 0.9, controlEnd: 0.1 })).toMatchObject({
      control: 'none',
      controlScale: 2,
      controlStart: 0,
      controlEnd: 1,
    });
  });

  it('draw a fresh integer seed each time', () => {
    const seeds = new Set(Array.from({ length: 50 }, () => defaultLiveFrameProps().seed));
    expect(seeds.size).toBeGreaterThan(40);
    for (const s of seeds) expect(Number.isInteger(s) && s >= 0 && s < 2 ** 31).toBe(true);
    expect(randomSeed(() => 0.999999999)).toBeLessThan(2 ** 31);
  });

  it('suggest 4 LCM steps on GPU, 1 on CPU and for Turbo', () => {
    expect(suggestedStepsForModel('lcm-dreamshaper-v7', true)).toBe(4);
    expect(suggestedStepsForModel('lcm-dreamshaper-v7', false)).toBe(1);
    expect(suggestedStepsForModel('sd-turbo', true)).toBe(1);
  });
});

describe('parseLiveFrameProps', () => {
  it('passes valid props through unchanged', () => {
    const p = { ...defaultLiveFrameProps(), prompt: 'a red fox', view: 'lens' as const };
    expect(parseLiveFrameProps(p)).toEqual(p);
  });

  it('fills missing fields with defaults (seed 0, so every reader agrees)', () => {
    const p = parseLiveFrameProps({ prompt: 'castle' });
    expect(p.prompt).toBe('castle');
    expect(p.seed).toBe(0);
    expect(p.strength).toBe(0.5);
    expect(p.outputSize).toBe(256);
    expect(p.view).toBe('frame');
    expect(parseLiveFrameProps(undefined)).toEqual({ ...defaultLiveFrameProps(() => 0) });
    expect(parseLiveFrameProps('nonsense').steps).toBe(1);
  });

  it('clamps and rounds out-of-range numbers', () => {
    const p = parseLiveFrameProps({
      strength: 3,
      steps: 2.6,
      seed: -5.5,
      guidance: 99,
      outputSize: 300,
      w: 0,
      h: 1e9,
    });
    expect(p).toMatchObject({ strength: 1, steps: 3, seed: 0, guidance: 20, outputSize: 320 });
    expect(p.w).toBe(32);
    expect(p.h).toBe(8192);
    expect(parseLiveFrameProps({ outputSize: 5000 }).outputSize).toBe(1024);
    expect(parseLiveFrameProps({ outputSize: 10 }).outputSize).toBe(128);
    expect(parseLiveFrameProps({ steps: 0 }).steps).toBe(1);
  });

  it('replaces wrong types with defaults and reads numeric strings', () => {
    const p = parseLiveFrameProps({
      prompt: 42,
      strength: 'x',
      seedLocked: 'yes',
      view: 'fullscreen',
      model: { name: 'm' },
      seed: '123',
      steps: NaN,
    });
    expect(p).toMatchObject({
      prompt: '',
      strength: 0.5,
      seedLocked: true,
      view: 'frame',
      model: '',
      seed: 123,
      steps: 1,
    });
  });

  it('drops unknown keys and truncates huge prompts', () => {
    const p = parseLiveFrameProps({ extra: 1, prompt: 'x'.repeat(5000) }) as unknown as Record<
      string,
      unknown
    >;
    expect('extra' in p).toBe(false);
    expect((p.prompt as string).length).toBe(1000);
  });
});

describe('readLiveFrameRecord', () => {
  it('reads a tldraw shape record and ignores other records', () => {
    const rec = {
      typeName: 'shape',
      id: 'shape:abc',
      type: 'live-frame',
      parentId: 'page:page',
      x: 10,
      y: 20,
      props: { prompt: 'owl', outputSize: 512 },
    };
    const r = readLiveFrameRecord(rec);
    expect(r?.id).toBe('shape:abc');
    expect(r?.props.prompt).toBe('owl');
    expect(r?.props.outputSize).toBe(512);
    expect(readLiveFrameRecord({ ...rec, type: 'geo' })).toBeNull();
    expect(readLiveFrameRecord({ ...rec, typeName: 'asset' })).toBeNull();
    expect(readLiveFrameRecord(null)).toBeNull();
  });
});

describe('render size', () => {
  it('is outputSize² for a square frame', () => {
    expect(renderSizeForFrame({ w: 320, h: 320, outputSize: 256 })).toEqual({ width: 256, height: 256 });
  });
  it('follows the aspect ratio with multiples of 64 for wide and tall frames', () => {
    expect(renderSizeForFrame({ w: 640, h: 360, outputSize: 512 })).toEqual({ width: 512, height: 320 });
    expect(renderSizeForFrame({ w: 100, h: 400, outputSize: 512 })).toEqual({ width: 128, height: 512 });
  });
  it('normalizes the output size to the accepted range', () => {
    expect(normalizeOutputSize(200)).toBe(192);
    expect(normalizeOutputSize(96)).toBe(128);
    expect(normalizeOutputSize(2048)).toBe(1024);
  });
});

describe('relative render cost', () => {
  it('is 1 for the CPU default and grows with pixels × steps', () => {
    expect(relativeRenderCost({ w: 320, h: 320, outputSize: 256, steps: 1 })).toBe(1);
    expect(relativeRenderCost({ w: 320, h: 320, outputSize: 512, steps: 1 })).toBe(4);
    expect(relativeRenderCost({ w: 320, h: 320, outputSize: 512, steps: 4 })).toBe(16);
  });
});

describe('strength zones', () => {
  it('label the three zones the panel explains', () => {
    expect(strengthZone(0.3).zone).toBe('close');
    expect(strengthZone(0.5).zone).toBe('balanced');
    expect(strengthZone(0.7).zone).toBe('balanced');
    expect(strengthZone(0.85).zone).toBe('reinvents');
  });
});

describe('content hash', () => {
  const frame = { x: 100, y: 100, props: defaultLiveFrameProps(() => 0.1) };
  const stroke = (id: string, x: number, extra: Record<string, unknown> = {}) => ({
    typeName: 'shape',
    id,
    type: 'draw',
    parentId: 'shape:frame',
    x,
    y: 5,
    props: { color: 'black', segments: [{ type: 'free', path: 'AAAA' }] },
    meta: {},
    ...extra,
  });

  it('is stable across key order and record order', () => {
    const a = stroke('shape:a', 1);
    const b = stroke('shape:b', 2);
    const reordered = Object.fromEntries(Object.entries(a).reverse());
    expect(liveFrameContentHash(frame, [a, b])).toBe(liveFrameContentHash(frame, [b, reordered]));
    expect(stableStringify({ b: 1, a: [2, { d: 3, c: undefined }] })).toBe('{"a":[2,{"d":3}],"b":1}');
  });

  it('changes when a shape or a render setting changes', () => {
    const base = liveFrameContentHash(frame, [stroke('shape:a', 1)]);
    expect(liveFrameContentHash(frame, [stroke('shape:a', 2)])).not.toBe(base);
    expect(liveFrameContentHash(frame, [])).not.toBe(base);
    for (const change of [{ prompt: 'cat' }, { strength: 0.6 }, { seed: 7 }, { steps: 2 }, { outputSize: 512 }, { control: 'scribble' as const }, { controlScale: 0.5 }, { controlStart: 0.2 }, { controlEnd: 0.8 }]) {
      const other = { ...frame, props: { ...frame.props, ...change } };
      expect(liveFrameContentHash(other, [stroke('shape:a', 1)])).not.toBe(base);
    }
  });

  it('ignores the view mode, the seed lock, meta and moving the frame with its children', () => {
    const base = liveFrameContentHash(frame, [stroke('shape:a', 1)]);
    const view = { ...frame, props: { ...frame.props, view: 'side' as const, seedLocked: false } };
    expect(liveFrameContentHash(view, [stroke('shape:a', 1)])).toBe(base);
    expect(liveFrameContentHash(frame, [stroke('shape:a', 1, { meta: { by: 'bob' } })])).toBe(base);
    expect(liveFrameContentHash({ ...frame, x: 500 }, [stroke('shape:a', 1)])).toBe(base);
    // page-level shapes overlapping the frame count relative to the frame too
    const onPage = stroke('shape:p', 150, { parentId: 'page:page' });
    const h1 = liveFrameContentHash(frame, [onPage]);
    const h2 = liveFrameContentHash({ ...frame, x: 200 }, [{ ...onPage, x: 250 }]);
    expect(h1).toBe(h2);
  });

  it('hashString gives 16 hex digits and spreads similar inputs', () => {
    expect(hashString('')).toMatch(/^[0-9a-f]{16}$/);
    const hs = new Set(Array.from({ length: 1000 }, (_, i) => hashString(`stroke-${i}`)));
    expect(hs.size).toBe(1000);
  });
});

describe('outputSizeChoices', () => {
  it('offers every multiple of 64 from 128 to 1024, marks warm sizes and the CPU cost of larger ones', () => {
    const props = { w: 320, h: 320, steps: 1 };
    const choices = outputSizeChoices(props, [256, 512], true);
    expect(choices.map((c) => c.size)).toEqual(Array.from({ length: 15 }, (_, i) => 128 + i * 64));
    expect(choices.filter((c) => c.warm).map((c) => c.size)).toEqual([256, 512]);
    const bySize = new Map(choices.map((c) => [c.size, c]));
    expect(bySize.get(256)!.label).toBe('256² · warm');
    expect(bySize.get(128)!.label).toBe('128²');
    expect(bySize.get(512)!.label).toBe('512² · warm · ≈4.0× CPU time');
    expect(bySize.get(1024)!.label).toBe('1024² · ≈16× CPU time');
    // steps multiply the cost; on a GPU no cost hint
    expect(outputSizeChoices({ ...props, steps: 2 }, [], true).find((c) => c.size === 256)!.label).toBe('256² · ≈2.0× CPU time');
    expect(outputSizeChoices(props, [512], false).find((c) => c.size === 1024)!.label).toBe('1024²');
  });
});
