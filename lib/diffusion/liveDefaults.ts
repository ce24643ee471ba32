// The settings a new live frame renders with, for renders made outside a frame (`npm run img2img`):
// the numbers live in lib/canvas/liveFrame.ts, the one definition the browser and the server read;
// nothing here restates them.
import { defaultLiveFrameProps, renderSizeForFrame, suggestedStepsForModel } from '../canvas/liveFrame';

export interface LiveFrameDefaults {
  /** render side of a new (square) frame */
  size: number;
  steps: number;
  strength: number;
  guidance: number;
}

/** What a new live frame on `model` renders with when the engine runs on `executionProvider`: the
 * frame's default strength, guidance and render size, and the steps its settings panel suggests
 * for the model on that hardware (suggestedStepsForModel: DEFAULT_STEPS on a CPU). */
export function liveFrameDefaults(model: string, executionProvider: string): LiveFrameDefaults {
  const frame = defaultLiveFrameProps(() => 0);
  const { width, height } = renderSizeForFrame(frame);
  return {
    size: Math.max(width, height),
    steps: suggestedStepsForModel(model, executionProvider !== 'cpu'),
    strength: frame.strength,
    guidance: frame.guidance,
  };
}
