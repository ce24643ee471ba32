// Render settings come from the live-frame record in the room's Y.Doc (one source of truth), read
// when the snapshot arrives, so a snapshot always renders with the settings it was drawn under.
import type * as Y from 'yjs';
import { getRecordsMap } from '../../lib/canvas/docLayout';
import { readLiveFrameRecord, renderSizeForFrame, type LiveFrameProps } from '../../lib/canvas/liveFrame';
import type { RenderParams } from '../engine/messages';

export type FrameLookup = { ok: true; props: LiveFrameProps } | { ok: false; message: string };

export function readFrame(doc: Y.Doc, frameId: string): FrameLookup {
  const record = getRecordsMap(doc).get(frameId);
  if (record === undefined) return { ok: false, message: `frame ${frameId} does not exist in this room` };
  const frame = readLiveFrameRecord(record);
  if (!frame) return { ok: false, message: `shape ${frameId} is not a live frame` };
  return { ok: true, props: frame.props };
}

/** With the seed locked every render of a frame uses the frame's seed, so the noise stays put and
 * only the sketch changes the picture. Unlocked, each snapshot gets its own seed derived from the
 * frame seed and the snapshot seq: fresh noise per render, yet reproducible. */
export function seedFor(props: Pick<LiveFrameProps, 'seed' | 'seedLocked'>, seq: number): number {
  if (props.seedLocked) return props.seed;
  return (props.seed + seq) % 2 ** 32;
}

export function renderParamsFor(props: LiveFrameProps, seq: number): RenderParams {
  const { width, height } = renderSizeForFrame(props);
  return {
    prompt: props.prompt,
    strength: props.strength,
    steps: props.steps,
    seed: seedFor(props, seq),
    guidance: props.guidance,
    width,
    height,
    // ControlNet: the engine makes the control image from the snapshot (scribble/canny)
    ...(props.control !== 'none' && {
      control: [{ kind: props.control, scale: props.controlScale, start: props.controlStart, end: props.controlEnd }],
    }),
  };
}
