// The live frame as a tldraw record type: prop validators and migrations. Kept apart from
// liveFrame.ts because it needs tldraw's runtime; a server that builds a TLSchema can import it.
import { T, createShapePropsMigrationIds, createShapePropsMigrationSequence, type RecordProps, type TLShape } from 'tldraw';
import { LIVE_FRAME_TYPE, LIVE_FRAME_VIEWS, type LiveFrameProps } from './liveFrame';

declare module 'tldraw' {
  interface TLGlobalShapePropsMap {
    [LIVE_FRAME_TYPE]: LiveFrameProps;
  }
}

export type LiveFrameShape = TLShape<typeof LIVE_FRAME_TYPE>;

/** Strict validators for records in the store; they mirror the ranges `parseLiveFrameProps`
 * clamps to, so anything the panel writes passes both. */
export const liveFrameShapeProps: RecordProps<LiveFrameShape> = {
  w: T.nonZeroNumber,
  h: T.nonZeroNumber,
  prompt: T.string,
  strength: T.number.check((v) => {
    if (v < 0 || v > 1) throw new Error(`strength must be within 0..1, got ${v}`);
  }),
  steps: T.nonZeroInteger,
  seed: T.positiveInteger,
  seedLocked: T.boolean,
  guidance: T.positiveNumber,
  model: T.string,
  outputSize: T.nonZeroInteger.check((v) => {
    if (v % 64 !== 0) throw new Error(`outputSize must be a multiple of 64, got ${v}`);
  }),
  view: T.literalEnum(...LIVE_FRAME_VIEWS),
};

/** Version ids of the live frame's props. Add an entry (and a migration below) whenever a prop
 * is added, renamed or changes meaning; never edit a released one. */
export const liveFrameVersions = createShapePropsMigrationIds(LIVE_FRAME_TYPE, {
  Initial: 1,
});

export const liveFrameShapeMigrations = createShapePropsMigrationSequence({
  sequence: [
    {
      // The first release; documents from before it have no live frames to migrate.
      id: liveFrameVersions.Initial,
      up: () => {},
      down: () => {},
    },
  ],
});
