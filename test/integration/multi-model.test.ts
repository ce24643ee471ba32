// Several models on one machine (issue 12): MODELS=tiny-lcm,tiny-turbo loads both; each frame
// renders with the model it names; a frame naming a model that is not loaded says so and does not
// render with another one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EV, type EngineStatus, type FrameStatus, type RenderResult } from '../../lib/protocol';
import { sketchJpeg } from '../helpers/images';
import { startServer, type TestServer } from '../helpers/server';
import { addLiveFrame, connectPeer, createRoom, until, type Peer } from '../helpers/yclient';

let server: TestServer;
const peers: Peer[] = [];

beforeAll(async () => {
  server = await startServer({ env: { MODELS: 'tiny-lcm,tiny-turbo' } });
  await until(async () => {
    const h = (await (await fetch(`${server.url}/healthz`)).json()) as { engine: EngineStatus };
    return h.engine.state === 'ready';
  }, 60_000, 'both models loaded');
}, 90_000);

afterAll(async () => {
  for (const p of peers) p.close();
  await server?.stop();
});

const frame = addLiveFrame;

describe('MODELS=tiny-lcm,tiny-turbo on one machine', () => {
  it('renders each frame with the model it names, and refuses a model that is not loaded with a clear status', async () => {
    const health = (await (await fetch(`${server.url}/healthz`)).json()) as { engine: EngineStatus };
    expect(health.engine.model).toBe('tiny-lcm, tiny-turbo');
    const roomId = await createRoom(server.url);
    const peer = await connectPeer(server.url, roomId);
    peers.push(peer);
    const renders: RenderResult[] = [];
    const states: FrameStatus[] = [];
    peer.socket.on(EV.render, (r: RenderResult) => renders.push(r));
    peer.socket.on(EV.frameStatus, (s: FrameStatus) => states.push(s));
    const lcm = await frame(peer, { model: 'tiny-lcm' });
    const turbo = await frame(peer, { model: 'tiny-turbo', steps: 1 });
    const byDefault = await frame(peer, {});
    const missing = await frame(peer, { model: 'sdxs-512' });
    const img = await sketchJpeg(128, 3);
    const seq = Date.now();
    for (const f of [lcm, turbo, byDefault, missing]) {
      peer.socket.emit(EV.snapshot, { roomId, frameId: f, seq, hash: 'h', mime: 'image/jpeg', image: img, sentAt: Date.now() });
    }
    await until(() => [lcm, turbo, byDefault].every((f) => renders.some((r) => r.frameId === f)), 30_000, 'three renders');
    expect(renders.find((r) => r.frameId === lcm)!.model).toBe('tiny-lcm');
    expect(renders.find((r) => r.frameId === turbo)!.model).toBe('tiny-turbo');
    expect(renders.find((r) => r.frameId === byDefault)!.model).toBe('tiny-lcm');
    await until(() => states.some((s) => s.frameId === missing && /does not run model 'sdxs-512'/.test(s.message ?? '')), 10_000, 'a status naming the missing model');
    await new Promise((r) => setTimeout(r, 500));
    expect(renders.some((r) => r.frameId === missing)).toBe(false);
  }, 60_000);
});
