// ControlNet through a live frame (issue 13): a frame's control props reach the engine; a frame
// asking for control on a model without ControlNets gets a clear status instead of a render.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiveFrameProps } from '../../lib/canvas/liveFrame';
import { EV, type EngineStatus, type FrameStatus, type RenderResult } from '../../lib/protocol';
import { sketchJpeg } from '../helpers/images';
import { startServer, type TestServer } from '../helpers/server';
import { addLiveFrame, connectPeer, createRoom, until, type Peer } from '../helpers/yclient';

let server: TestServer;
const peers: Peer[] = [];

beforeAll(async () => {
  server = await startServer({ env: { MODELS: 'tiny-lcm-controlnet,tiny-lcm' } });
  await until(async () => ((await (await fetch(`${server.url}/healthz`)).json()) as { engine: EngineStatus }).engine.state === 'ready', 60_000, 'engines ready');
}, 90_000);

afterAll(async () => {
  for (const p of peers) p.close();
  await server?.stop();
});

const frame = (peer: Peer, props: Partial<LiveFrameProps>) => addLiveFrame(peer, { prompt: 'a house', steps: 2, seedLocked: true, seed: 7, ...props });

describe('live frames with ControlNet', () => {
  it('scribble control changes the render; scale 0 renders like no control; no ControlNet means a clear status', async () => {
    const roomId = await createRoom(server.url);
    const peer = await connectPeer(server.url, roomId);
    peers.push(peer);
    const renders: RenderResult[] = [];
    const states: FrameStatus[] = [];
    peer.socket.on(EV.render, (r: RenderResult) => renders.push(r));
    peer.socket.on(EV.frameStatus, (s: FrameStatus) => states.push(s));
    const model = 'tiny-lcm-controlnet';
    const plain = await frame(peer, { model });
    const scribble = await frame(peer, { model, control: 'scribble', controlScale: 1.5 });
    const zero = await frame(peer, { model, control: 'scribble', controlScale: 0 });
    const noNet = await frame(peer, { model: 'tiny-lcm', control: 'canny' });
    const img = await sketchJpeg(128, 5);
    const seq = Date.now();
    for (const f of [plain, scribble, zero, noNet]) {
      peer.socket.emit(EV.snapshot, { roomId, frameId: f, seq, hash: 'h', mime: 'image/jpeg', image: img, sentAt: Date.now() });
    }
    await until(() => [plain, scribble, zero].every((f) => renders.some((r) => r.frameId === f)), 30_000, 'three renders');
    const jpeg = (f: string) => Buffer.from(renders.find((r) => r.frameId === f)!.image as Uint8Array);
    expect(jpeg(zero).equals(jpeg(plain)), 'scale 0 = no control').toBe(true);
    expect(jpeg(scribble).equals(jpeg(plain)), 'scribble changes the render').toBe(false);
    await until(() => states.some((s) => s.frameId === noNet && s.state === 'error' && /ControlNet/.test(s.message ?? '')), 10_000, 'a status for control without a ControlNet');
    expect(states.find((s) => s.frameId === noNet && s.state === 'error')!.message).toMatch(/no canny ControlNet/);
  }, 60_000);
});
