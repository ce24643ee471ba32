// JSON bodies of the render loop's HTTP routes (served by server/render, read by app/live), in one
// place like the socket events: the client validates what it reads with these schemas.
import { z } from 'zod';

/** One kept render of a frame: `GET /api/renders/:roomId/:frameId` lists the last 20. */
export const KeptRender = z.object({
  seq: z.number().int(),
  /** `/api/renders/:roomId/:frameId/:seq.jpg` */
  url: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  seed: z.number().int(),
  model: z.string(),
  renderedAt: z.number(),
});

export const FrameRenderList = z.object({
  roomId: z.string(),
  frameId: z.string(),
  renders: z.array(KeptRender),
});

export type KeptRender = z.infer<typeof KeptRender>;
export type FrameRenderList = z.infer<typeof FrameRenderList>;
