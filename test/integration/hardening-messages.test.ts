// Hardening finding 9 (last part): engine errors reach clients as a short reason; absolute server
// paths (the models folder, the install directory) stay in the log.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveFrameRecord } from '../../lib/canvas/liveFrame';
import { EV } from '../../lib/protocol';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, until } from '../helpers/yclient';

let server: TestServer;
const modelsDir = mkdtempSync(join(tmpdir(), 'lc-secret-models-'));

beforeAll(async () => {
  server = await startServer({ model: 'no-such-model', env: { LOG_LEVEL: 'warn', MODELS_DIR: modelsDir } });
  await until(async () => ((await (await fetch(`${server.url}/healthz`)).json()) as { engine?: { state: string } }).engine?.state === 'no-model', 30_000, 'no-model');
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

describe('messages to clients', () => {
  it('carry no absolute server path, while the log keeps it', async () => {
    const health = JSON.stringify(await (await fetch(`${server.url}/healthz`)).json());
    expect(health).toContain('no-such-model');
    expect(health).not.toContain(modelsDir);
    const room = await createRoom(server.url);
    const seen: string[] = [];
    const peer = await connectPeer(server.url, room, { waitSync: false });
    for (const ev of [EV.engineStatus, EV.frameStatus, EV.error]) peer.socket.on(ev, (m: unknown) => seen.push(JSON.stringify(m)));
    await peer.synced();
    // the replay (the join's engine status) where the server has it
    const replay = await peer.socket.timeout(5_000).emitWithAck(EV.replay, { roomId: room }).catch(() => null);
    if (replay) seen.push(JSON.stringify(replay));
    const id = 'shape:msgframe';
    peer.records.set(id, liveFrameRecord(id, { w: 128, h: 128, outputSize: 128 }));
    await peer.acked();
    const ack = await peer.socket.timeout(5_000).emitWithAck(EV.snapshot, { roomId: room, frameId: id, seq: 1, hash: 'h', mime: 'image/jpeg', image: Buffer.from([1, 2, 3]) });
    seen.push(JSON.stringify(ack));
    seen.push(JSON.stringify(await (await fetch(`${server.url}/healthz`)).json()));
    await until(() => seen.some((s) => s.includes('no-model')), 5_000, 'a no-model status');
    const all = seen.join('\n');
    expect(all).toContain('no-such-model');
    expect(all).not.toContain(modelsDir);
    expect(server.output()).toContain(modelsDir);
    peer.close();
  });
});
