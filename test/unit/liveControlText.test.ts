// The shape guide's words (app/live/controlText.ts), the refine progress line and the render's
// details tooltip (app/live/hudText.ts).
import { describe, expect, it } from 'vitest';
import { CONTROL_CHOICES, holdText, missingControlNet, timingText, timingValue } from '../../app/live/controlText';
import { describeRefine, REFINE_DONE_SHOWN_MS, renderDetails } from '../../app/live/hudText';

describe('shape guide words', () => {
  it('names each kind for a designer, with short one-line hints', () => {
    expect(CONTROL_CHOICES.scribble.title).toMatch(/keeps your lines, lets the prompt choose the materials/);
    expect(CONTROL_CHOICES.canny.label).toBe('Edges');
    expect(CONTROL_CHOICES.canny.hint).toBe('keeps the outlines of everything in the frame');
    for (const c of Object.values(CONTROL_CHOICES)) expect(c.hint.length).toBeLessThanOrEqual(46);
  });

  it('says how firmly the shape holds, and that the hold needs a guide', () => {
    expect(holdText('none', 1)).toBe('choose Scribble or Edges to use it');
    expect(holdText('scribble', 0)).toMatch(/^off/);
    expect(holdText('scribble', 0.3)).toMatch(/^loose/);
    expect(holdText('canny', 1)).toMatch(/^firm/);
    expect(holdText('canny', 2)).toMatch(/^rigid/);
  });

  it('says when in the render the shape is enforced', () => {
    expect(timingValue(0, 1)).toBe('0%–100%');
    expect(timingValue(0.25, 0.8)).toBe('25%–80%');
    expect(timingText(0, 1)).toMatch(/all along/);
    expect(timingText(0, 0.4)).toMatch(/^early only: composition/);
    expect(timingText(0.6, 1)).toMatch(/^late only: details/);
    expect(timingText(0.2, 0.7)).toMatch(/middle/);
  });

  it('splits a no-ControlNet status into why and how to get one; other statuses are not it', () => {
    const message = 'tiny-lcm has no canny ControlNet (it has no ControlNet); get a model with ControlNets: `npm run models:download -- x`';
    expect(missingControlNet({ state: 'error', message })).toEqual({
      why: 'tiny-lcm has no canny ControlNet (it has no ControlNet)',
      how: 'get a model with ControlNets: `npm run models:download -- x`',
    });
    expect(missingControlNet({ state: 'error', message: 'bad image' })).toBeNull();
    expect(missingControlNet({ state: 'idle', message })).toBeNull();
    expect(missingControlNet(null)).toBeNull();
  });
});

describe('refine progress and render details in the HUD', () => {
  const base = { width: 768, height: 768, at: 1000, mine: false, by: 'Ann' };
  it('says what the refine is doing, and who asked when it was someone else', () => {
    expect(describeRefine({ ...base, state: 'queued' }, 1000)?.text).toBe('Refine 768×768 (asked by Ann) queued behind live drawing');
    expect(describeRefine({ ...base, state: 'rendering', mine: true }, 1000)?.text).toBe('Refining 768×768…');
    expect(describeRefine({ ...base, state: 'done', mine: true }, 1000)).toMatchObject({ text: 'Refined 768×768: placed beside the frame', tone: 'ok' });
    expect(describeRefine({ ...base, state: 'done' }, 1000 + REFINE_DONE_SHOWN_MS)).toBeNull();
    expect(describeRefine({ ...base, state: 'error', message: 'out of memory' }, 1000)).toMatchObject({ text: 'Refine failed: out of memory', tone: 'error' });
    expect(describeRefine({ ...base, state: 'error', message: 'x', mine: true }, 1e9)?.tone).toBe('error'); // kept until dismissed
    expect(describeRefine(null, 0)).toBeNull();
  });

  it('names the model and, in cluster mode, the render worker of the render on screen', () => {
    const shown = { model: 'tiny-lcm', width: 256, height: 256, seed: 7 };
    expect(renderDetails(shown)).toBe('rendered by tiny-lcm · 256×256 · seed 7');
    expect(renderDetails({ ...shown, worker: 'gpu-box-1:0' })).toBe('rendered by tiny-lcm on render worker gpu-box-1:0 · 256×256 · seed 7');
  });
});
