// What the live frame's shape guide (ControlNet) settings mean, in a designer's words: the kind
// of guide, how firmly it holds, and when in the render it applies. The numbers go into tooltips.
import type { LiveFrameControl } from '../../lib/canvas/liveFrame';

export const CONTROL_CHOICES: Record<LiveFrameControl, { label: string; hint: string; title: string }> = {
  none: {
    label: 'None',
    hint: 'the sketch is only the starting picture',
    title: 'No shape guide: plain sketch-to-render, strength alone decides how much of the sketch stays',
  },
  scribble: {
    label: 'Scribble',
    hint: 'keeps your lines, the prompt picks materials',
    title: 'Scribble: keeps your lines, lets the prompt choose the materials (works well at high strength)',
  },
  canny: {
    label: 'Edges',
    hint: 'keeps the outlines of everything in the frame',
    title: 'Edges: keeps the outlines of everything in the frame, images and fills included',
  },
};

export const CONTROL_DETAILS =
  'a shape guide (ControlNet) holds the render to the sketch’s shape, so even a high strength keeps the composition';

export const HOLD_DETAILS = 'how firmly the shape holds: 0 off · about 1 firm · 2 rigid';

/** The hold (control scale) in words, shown under its slider. */
export function holdText(control: LiveFrameControl, scale: number): string {
  if (control === 'none') return 'choose Scribble or Edges to use it';
  if (scale <= 0) return 'off: the shape is not enforced';
  if (scale < 0.5) return 'loose: a hint of the shape';
  if (scale < 1.25) return 'firm: the shape holds';
  return 'rigid: follows the lines closely';
}

export const TIMING_DETAILS =
  'when in the render the shape is enforced: early = composition, late = details (fractions of the steps)';

const pct = (f: number) => `${Math.round(f * 100)}%`;

/** "0–100%": the part of the render in which the shape guide applies. */
export function timingValue(start: number, end: number): string {
  return `${pct(start)}–${pct(end)}`;
}

/** The timing in words, shown under its slider. */
export function timingText(start: number, end: number): string {
  if (start <= 0 && end >= 1) return 'all along: composition and details';
  if (start <= 0) return end <= 0.5 ? 'early only: composition, free details' : 'composition, then free for the last details';
  if (end >= 1) return start >= 0.5 ? 'late only: details, free composition' : 'free start, then composition and details';
  return 'the middle of the render only';
}

/** A frame status saying its model has no ControlNet for the kind asked, split into why and how to
 * get one ("tiny-lcm has no canny ControlNet (…); get a model with ControlNets: `npm run …`"). */
export function missingControlNet(
  status: { state: string; message?: string } | null | undefined,
): { why: string; how: string } | null {
  if (!status?.message || (status.state !== 'error' && status.state !== 'no-model')) return null;
  if (!/ControlNet/.test(status.message)) return null;
  const at = status.message.indexOf('; ');
  return at < 0
    ? { why: status.message, how: '' }
    : { why: status.message.slice(0, at), how: status.message.slice(at + 2) };
}
