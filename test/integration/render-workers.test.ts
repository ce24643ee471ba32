// Cluster mode, part 2 (issue 12): renders made by render worker processes fed through Redis.
// Two web nodes, real workers with the tiny models, socket clients on both nodes.
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveFrameRecord, type LiveFrameProps } from '../../lib/canvas/liveFrame';
import { EV, type FrameStatus, type RenderResult } from '../../lib/protocol';
import { startCluster, startWorker, type TestCluster, type TestWorker } from '../helpers/cluster';
import { sketchJpeg } from '../helpers/images';
import { connectPeer, createRoom, until, type Peer } from '../helpers/yclient';
import { decodeFrame, type QueueMessage } from '../../server/workers/jobCodec';
import { RESULTS_CHANNEL } from '../../server/workers/WorkQueue';

let cluster: TestCluster;
const workers: TestWorker[] = [];
const closers: Array<() => void> = [];

beforeAll(async () => {
  cluster = await startCluster(2);
}, 120_000);

afterAll(async () => {
  for (const c of closers.splice(0)) c();
  await Promise.allSettled(workers.map((w) => w.stop('SIGKILL')));
  await cluster?.stop();
}, 60_000);

async function worker(id: string, env: Record<string, string> = {}): Promise<TestWorker> {
  const w = await startWorker(cluster.redis.url, id, env);
  workers.push(w);
  // every web node sees it (they read the workers' advertisements every second)
  for (const node of cluster.nodes) {
    await until(async () => {
      const h = (await (await fetch(`${node.url}/healthz`)).json()) as { workers?: { live: Array<{ id: string }> } };
      return h.workers?.live.some((x) => x.id === id) ?? false;
    }, 10_000, `node ${node.url} sees worker ${id}`);
  }
  return w;
}

/** Records the renders and frame states one socket receives. */
function inbox(socket: Socket) {
  const renders: RenderResult[] = [];
  const states: FrameStatus[] = [];
  socket.on(EV.render, (r: RenderResult) => renders.push(r));
  socket.on(EV.frameStatus, (s: FrameStatus) => states.push(s));
  return { renders, states };
}

async function participant(url: string, roomId: string) {
  const peer = await connectPeer(url, roomId);
  closers.push(() => peer.close());
  return { peer, ...inbox(peer.socket) };
}

async function liveFrame(peer: Peer, props: Partial<LiveFrameProps> = {}): Promise<string> {
  const id = `shape:live-${randomBytes(3).toString('hex')}`;
  peer.records.set(id, liveFrameRecord(id, { w: 128, h: 128, prompt: 'a cat', outputSize: 128, ...props } as Partial<LiveFrameProps>));
  await peer.acked();
  return id;
}

function snapshot(peer: Peer, frameId: string, seq: number, image: Buffer) {
  peer.socket.emit(EV.snapshot, { roomId: peer.roomId, frameId, seq, hash: `h${seq}`, mime: 'image/jpeg', image, sentAt: Date.now() });
}

describe('render workers', () => {
  it('two nodes, two workers: every client gets each render once, in increasing seq; a burst of 50 ends with the last; never two renders of a frame at once', async () => {
    const [A, B] = cluster.nodes;
    await Promise.all([worker('w1', { ENGINE_TEST_DELAY_MS: '60' }), worker('w2', { ENGINE_TEST_DELAY_MS: '60' })]);
    const roomId = await createRoom(A.url);
    const a = await participant(A.url, roomId);
    const b = await participant(B.url, roomId);
    const watcherB = await participant(B.url, roomId);
    const frameId = await liveFrame(a.peer);
    await until(() => b.peer.records.has(frameId), 5_000, 'the frame on node B');
    const images = await Promise.all(Array.from({ length: 8 }, (_, i) => sketchJpeg(128, i)));
    const records = await workerRecords();
    const base = Date.now();
    for (let i = 1; i <= 50; i++) {
      snapshot(i % 2 ? a.peer : b.peer, frameId, base + i, images[i % 8]!);
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const who of [a, b, watcherB]) {
      await until(() => who.renders.some((r) => r.seq === base + 50), 20_000, 'the last snapshot rendered');
    }
    await new Promise((r) => setTimeout(r, 500)); // nothing more may arrive
    for (const who of [a, b, watcherB]) {
      const seqs = who.renders.filter((r) => r.frameId === frameId).map((r) => r.seq);
      expect(new Set(seqs).size, 'each render once').toBe(seqs.length);
      expect(seqs, 'increasing').toEqual([...seqs].sort((x, y) => x - y));
      expect(seqs.at(-1)).toBe(base + 50);
      expect(seqs.length).toBeLessThan(50); // superseded snapshots were dropped
    }
    // the same renders on both nodes
    expect(b.renders.map((r) => r.seq)).toEqual(a.renders.map((r) => r.seq));
    // the workers' own clocks: no two renders of the frame overlapped
    const spans = records.filter((r) => r.fk === `${roomId}/${frameId}`).sort((x, y) => x.startedAt - y.startedAt);
    expect(spans.map((r) => r.seq)).toEqual(a.renders.map((r) => r.seq));
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.startedAt).toBeGreaterThanOrEqual(spans[i - 1]!.finishedAt);
    expect(new Set(a.renders.map((r) => r.worker))).toEqual(new Set(['w1', 'w2']));
  }, 90_000);
});

/** Every result the workers publish (their own records: who rendered which seq, from when to when). */
async function workerRecords() {
  const sub = new Redis(cluster.redis.url);
  const results: Array<{ fk: string; seq: number; worker: string; startedAt: number; finishedAt: number }> = [];
  sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
    if (message[0] === 0x7b) return; // a frame state
    const { header } = decodeFrame<QueueMessage>(message);
    if (header.t === 'result') results.push({ fk: header.fk, seq: header.job.seq, worker: header.worker, startedAt: header.startedAt, finishedAt: header.finishedAt });
  });
  await sub.subscribe(RESULTS_CHANNEL);
  closers.push(() => sub.disconnect());
  return results;
}
