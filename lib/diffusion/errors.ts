// One error type for everything the engine refuses, with a stable code for programs (the server
// maps it onto `lc:error`) and a one-line message for people that says what to do.

export type EngineErrorCode =
  /** a model folder, part or file does not exist */
  | 'MODEL_MISSING'
  /** a weights file is a Git-LFS pointer, not the weights */
  | 'MODEL_LFS_POINTER'
  /** a file exists but cannot be parsed or loaded */
  | 'MODEL_CORRUPT'
  /** the model loads but its inputs/outputs are not an SD img2img contract we can drive */
  | 'MODEL_UNSUPPORTED'
  /** strength/steps/size/seed/guidance out of range */
  | 'INVALID_PARAMS'
  /** a render asked for a ControlNet kind the model has no ControlNet for */
  | 'NO_CONTROLNET'
  /** the input image cannot be decoded or is too large */
  | 'INVALID_IMAGE'
  /** the engine was used after dispose() */
  | 'DISPOSED'
  /** a run was started while another one runs on the same pipeline (its buffers are reused) */
  | 'BUSY';

export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}
