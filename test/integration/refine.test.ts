// Refine (issue 13): a larger, finished render of a live frame, queued behind live frames, stored as
// a pinned asset; everyone in the room sees its progress.
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveFrameRecord } from '../../lib/canvas/liveFrame';
import { EV, PinAck, type RefineStatus, type RenderResult } from '../../lib/protocol';
import { sketchJpeg } from '../helpers/images';
import { roomCookie } from '../helpers/roomHttp';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, until, type Peer } from '../helpers/yclient';

let server: TestServer;
const peers: Peer[] = [];

beforeAll(async () => {
  server = await startServer({ model: 'tiny-lcm' });
}, 90_000);

afterAll(async () => {
  for (const p of peers) p.close();
  await server?.stop();
});

describe('refine', () => {
  it('renders the frame at 512² with 4 steps and the chosen render’s seed, stores it, and tells the room', async () => {
    const roomId = await createRoom(server.url);
    const a = await connectPeer(server.url, roomId);
    const b = await connectPeer(server.url, roomId);
    peers.push(a, b);
    const renders: RenderResult[] = [];
    const statuses: RefineStatus[] = [];
    a.socket.on(EV.render, (r: RenderResult) => renders.push(r));
    b.socket.on(EV.refineStatus, (s: RefineStatus) => statuses.push(s));
    const frameId = `shape:live-${randomBytes(3).toString('hex')}`;
    a.records.set(frameId, liveFrameRecord(frameId, { w: 256, h: 256, prompt: 'a boat', outputSize: 256, seedLocked: false }));
    await a.acked();
    const seq = Date.now();
    a.socket.emit(EV.snapshot, { roomId, frameId, seq, hash: 'h', mime: 'image/jpeg', image: await sketchJpeg(256, 1), sentAt: Date.now() });
    await until(() => renders.some((r) => r.seq === seq), 30_000, 'the live render');
    const live = renders.find((r) => r.seq === seq)!;

    const ack = PinAck.parse(
      await a.socket.timeout(60_000).emitWithAck(EV.refine, { roomId, frameId, seq, mime: 'image/jpeg', image: await sketchJpeg(512, 1) }),
    );
    if (!ack.ok) throw new Error(ack.error.message);
    expect(ack).toMatchObject({ width: 512, height: 512, seed: live.seed });
    await until(() => statuses.length === 3, 5_000, 'the refine statuses on the other client');
    expect(statuses.map((s) => s.state)).toEqual(['queued', 'rendering', 'done']);
    expect(statuses[0]).toMatchObject({ width: 512, height: 512 });
    const img = await fetch(`${server.url}${ack.url}`, { headers: roomCookie(roomId) });
    expect(img.status).toBe(200);
    const meta = await sharp(Buffer.from(await img.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([512, 512]);
    // a viewer may not refine
    const viewer = await connectPeer(server.url, roomId, { role: 'viewer' });
    peers.push(viewer);
    const refused = (await viewer.socket.timeout(10_000).emitWithAck(EV.refine, { roomId, frameId, seq, mime: 'image/jpeg', image: await sketchJpeg(512, 2) })) as { ok: boolean; error?: { code: string } };
    expect(refused).toMatchObject({ ok: false, error: { code: 'forbidden' } });
  }, 90_000);
});
