// The live frame as a tldraw record type: prop validators and migrations. Kept apart from
// liveFrame.ts because it needs tldraw's runtime; a server that builds a TLSchema can import it.
import {
  T,
  createShapePropsMigrationIds,
  createShapePropsMigrationSequence,
  type RecordProps,
  type TLShape,
} from 'tldraw';
import { LIVE_FRAME_CONTROLS, LIVE_FRAME_LIMITS, LIVE_FRAME_TYPE, LIVE_FRAME_VIEWS, parseLiveFrameProps, type LiveFrameProps } from './liveFrame';

declare module 'tldraw' {
  interface TLGlobalShapePropsMap {
    [LIVE_FRAME_TYPE]: LiveFrameProps;
  }
}

export type LiveFrameShape = TLShape<typeof LIVE_FRAME_TYPE>;

const L = LIVE_FRAME_LIMITS;

const within = (name: string, min: number, max: number) => (v: number) => {
  if (v < min || v > max) throw new Error(`${name} must be within ${min}..${max}, got ${v}`);
};
const atMost = (name: string, max: number) => (v: string) => {
  if (v.length > max) throw new Error(`${name} must be at most ${max} characters, got ${v.length}`);
};

/** Strict validators for records in the store: the ranges of LIVE_FRAME_LIMITS, which
 * `parseLiveFrameProps` clamps to, so anything the panel writes passes both. */
export const liveFrameShapeProps: RecordProps<LiveFrameShape> = {
  w: T.nonZeroNumber,
  h: T.nonZeroNumber,
  prompt: T.string.check(atMost('prompt', L.prompt.maxLength)),
  strength: T.number.check(within('strength', L.strength.min, L.strength.max)),
  steps: T.integer.check(within('steps', L.steps.min, L.steps.max)),
  seed: T.integer.check(within('seed', L.seed.min, L.seed.max)),
  seedLocked: T.boolean,
  guidance: T.number.check(within('guidance', L.guidance.min, L.guidance.max)),
  model: T.string.check(atMost('model', L.model.maxLength)),
  outputSize: T.integer.check((v) => {
    within('outputSize', L.outputSize.min, L.outputSize.max)(v);
    if (v % L.outputSize.step !== 0) throw new Error(`outputSize must be a multiple of ${L.outputSize.step}, got ${v}`);
  }),
  view: T.literalEnum(...LIVE_FRAME_VIEWS),
  control: T.literalEnum(...LIVE_FRAME_CONTROLS),
  controlScale: T.number.check(within('controlScale', L.controlScale.min, L.controlScale.max)),
  controlStart: T.number.check(within('controlStart', L.controlRange.min, L.controlRange.max)),
  controlEnd: T.number.check(within('controlEnd', L.controlRange.min, L.controlRange.max)),
};

/** Version ids of the live frame's props. Add an entry (and a migration below) whenever a prop
 * is added, renamed or changes meaning; never edit a released one. */
export const liveFrameVersions = createShapePropsMigrationIds(LIVE_FRAME_TYPE, {
  Initial: 1,
  ClampToLimits: 2,
  AddControl: 3,
});

/** The props whose range version 2 started to validate. */
const RANGED_PROPS = ['prompt', 'strength', 'steps', 'seed', 'guidance', 'model', 'outputSize'] as const;

export const liveFrameShapeMigrations = createShapePropsMigrationSequence({
  sequence: [
    {
      // The first release; documents from before it have no live frames to migrate.
      id: liveFrameVersions.Initial,
      up: () => {},
      down: () => {},
    },
    {
      // Version 1 validated loosely (any positive steps, seed or guidance, any multiple of 64):
      // bring such values into range instead of letting the stricter validators drop the frame.
      id: liveFrameVersions.ClampToLimits,
      up: (props: Record<string, unknown>) => {
        const clamped = parseLiveFrameProps(props);
        for (const key of RANGED_PROPS) props[key] = clamped[key];
      },
      // clamped values are valid under version 1 too
      down: () => {},
    },
    {
      // ControlNet: frames from before it render as they did (no control)
      id: liveFrameVersions.AddControl,
      up: (props: Record<string, unknown>) => {
        props.control = 'none';
        props.controlScale = 1;
        props.controlStart = 0;
        props.controlEnd = 1;
      },
      down: (props: Record<string, unknown>) => {
        delete props.control;
        delete props.controlScale;
        delete props.controlStart;
        delete props.controlEnd;
      },
    },
  ],
});
