// Hardening finding 10: one room's bad input must not use up the engine's restart budget for every
// room. A frame whose renders crash the engine worker (ENGINE_TEST_CRASH_PROMPT ends the worker
// thread the way a native onnxruntime crash would) is quarantined; another room keeps rendering.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EV, type EngineStatus, type FrameStatus, type RenderResult, type SnapshotAck } from '../../lib/protocol';
import { startServer, type TestServer } from '../helpers/server';
import { addLiveFrame, connectPeer, createRoom, until, type Peer } from '../helpers/yclient';
import { sketchJpeg } from '../helpers/images';

const CRASH = 'this prompt crashes the engine';

const frame = (peer: Peer, id: string, prompt: string) => addLiveFrame(peer, { prompt }, id);

const snapshot = (peer: Peer, frameId: string, seq: number, image: Buffer): Promise<SnapshotAck> =>
  peer.socket.timeout(10_000).emitWithAck(EV.snapshot, { roomId: peer.roomId, frameId, seq, hash: `h${seq}`, mime: 'image/jpeg', image });

const engine = async (): Promise<EngineStatus> => ((await (await fetch(`${server.url}/healthz`)).json()) as { engine: EngineStatus }).engine;

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ model: 'tiny-lcm', env: { LOG_LEVEL: 'error', ENGINE_WARMUP_SIZES: '128', ENGINE_TEST_CRASH_PROMPT: CRASH } });
  await until(async () => (await engine()).state === 'ready', 60_000, 'engine ready');
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe('engine crash quarantine', () => {
  it('quarantines the frame that keeps crashing the engine; other rooms keep rendering', async () => {
    const attacker = await connectPeer(server.url, await createRoom(server.url));
    const statuses: FrameStatus[] = [];
    attacker.socket.on(EV.frameStatus, (s: FrameStatus) => statuses.push(s));
    const honest = await connectPeer(server.url, await createRoom(server.url));
    const renders: RenderResult[] = [];
    honest.socket.on(EV.render, (r: RenderResult) => renders.push(r));
    const good = await frame(honest, 'shape:good', 'a red house');

    // six crashing frames, each sent until the server stops taking it: far more crashes than the
    // engine's restart budget (3 in 10 minutes) if every crash counted against every room
    const acks: SnapshotAck[] = [];
    for (let f = 0; f < 6; f++) {
      const bad = await frame(attacker, `shape:bad${f}`, CRASH);
      for (let seq = 1; seq <= 3; seq++) {
        await until(async () => (await engine()).state !== 'loading', 30_000, 'the engine to reload');
        const ack = await snapshot(attacker, bad, seq, await sketchJpeg(128, seq));
        acks.push(ack);
        if (!ack.ok) break;
        await until(() => statuses.some((s) => s.frameId === bad && s.state === 'error'), 30_000, `crash ${f}.${seq}`).catch(() => undefined);
        statuses.length = 0;
      }
    }
    // the attacker's frames were refused once quarantined, without disconnecting it
    expect(acks.some((a) => !a.ok && a.error.code === 'quarantined')).toBe(true);
    await until(async () => (await engine()).state !== 'loading', 30_000, 'the engine to settle');
    expect(await engine()).toMatchObject({ state: 'ready' });

    // the honest room renders
    const ack = await snapshot(honest, good, 1, await sketchJpeg(128, 9));
    expect(ack).toMatchObject({ ok: true, outcome: 'accepted' });
    await until(() => renders.some((r) => r.frameId === good && r.seq === 1), 30_000, 'the honest render');
    attacker.close();
    honest.close();
  }, 240_000);
});
