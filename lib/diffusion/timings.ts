// Where the time of one run goes. Each pipeline stage writes its own fields as it runs; settle()
// closes the books once the run (and the JPEG encode, when there is one) is done.

/** Milliseconds per stage. model = time inside session.run (ControlNets included), codec = decode/resize of the input and
 * encode of the output, overhead = everything else (tensor conversion, sampler math, JS). */
export interface PipelineTimings {
  decodeMs: number;
  tokenizeMs: number;
  textEncoderMs: number;
  vaeEncodeMs: number;
  unetMs: number;
  unetStepsMs: number[];
  /** ControlNet session runs (separate layout; a fused UNet runs its ControlNets inside unetMs) */
  controlNetMs: number;
  /** making the control images (lib/image/controlImage) and their 0..1 planes: overhead */
  controlImageMs: number;
  vaeDecodeMs: number;
  encodeMs: number;
  modelMs: number;
  codecMs: number;
  overheadMs: number;
  totalMs: number;
}

export const nowMs = () => performance.now();

export function newTimings(): PipelineTimings {
  return {
    decodeMs: 0,
    tokenizeMs: 0,
    textEncoderMs: 0,
    vaeEncodeMs: 0,
    unetMs: 0,
    unetStepsMs: [],
    controlNetMs: 0,
    controlImageMs: 0,
    vaeDecodeMs: 0,
    encodeMs: 0,
    modelMs: 0,
    codecMs: 0,
    overheadMs: 0,
    totalMs: 0,
  };
}

/** Totals of a run that started at `t0`: codec = decode + encode, overhead = the rest. */
export function settle(t: PipelineTimings, t0: number): PipelineTimings {
  t.totalMs = nowMs() - t0;
  t.codecMs = t.decodeMs + t.encodeMs;
  t.overheadMs = t.totalMs - t.modelMs - t.codecMs;
  return t;
}
