// Cluster mode, part 1 (issue 11): two web nodes sharing PostgreSQL and Redis serve one room.
// Real redis-server and PostgreSQL processes (started from the installed binaries), real server
// processes, socket clients speaking the browser's protocol.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../helpers/cluster';
import { ACCESS_EV, type RoomRevoked } from '../../lib/protocol/access';
import { connectPeer, createRoom, drawShape, until, type Peer } from '../helpers/yclient';

let cluster: TestCluster;
const peers: Peer[] = [];
const peer = async (url: string, roomId: string, name?: string) => {
  const p = await connectPeer(url, roomId, name ? { user: { name, color: '#336699' } } : {});
  peers.push(p);
  return p;
};

beforeAll(async () => {
  cluster = await startCluster(2);
}, 120_000);

afterAll(async () => {
  for (const p of peers.splice(0)) p.close();
  await cluster?.stop();
}, 60_000);

describe('two web nodes, one room', () => {
  it('clients on node A and node B converge after concurrent edits; a late joiner on B gets everything written on A', async () => {
    const [A, B] = cluster.nodes;
    const roomId = await createRoom(A.url); // made on A, joined through B with the same link
    const a = await peer(A.url, roomId);
    const b = await peer(B.url, roomId);
    for (let i = 0; i < 30; i++) {
      a.records.set(`shape:a${i}`, drawShape(i));
      b.records.set(`shape:b${i}`, drawShape(100 + i));
    }
    await Promise.all([a.acked(), b.acked()]);
    expect(a.nacks).toEqual([]);
    expect(b.nacks).toEqual([]);
    await until(() => a.records.size === 60 && b.records.size === 60, 10_000, 'both sides see 60 shapes');
    expect([...a.records.keys()].sort()).toEqual([...b.records.keys()].sort());

    a.records.set('shape:late', drawShape(999));
    await a.acked();
    const late = await peer(B.url, roomId);
    expect(late.records.has('shape:late')).toBe(true);
    expect(late.records.size).toBe(61);
  }, 60_000);

  it('presence crosses nodes, and a peer’s cursor disappears on both nodes within 5 s of its disconnect', async () => {
    const [A, B] = cluster.nodes;
    const roomId = await createRoom(A.url);
    const onA = await peer(A.url, roomId, 'Ann');
    const onB = await peer(B.url, roomId, 'Bob');
    const watcherA = await peer(A.url, roomId, 'Wes');
    const names = (p: Peer) => [...p.awareness.getStates().values()].map((s) => (s as { user?: { name: string } }).user?.name).filter(Boolean).sort();
    await until(() => names(onB).includes('Ann') && names(onA).includes('Bob') && names(watcherA).includes('Bob'), 5_000, 'names across nodes');
    onB.awareness.setLocalStateField('cursor', { x: 10, y: 20 });
    await until(() => [...onA.awareness.getStates().values()].some((s) => (s as { cursor?: { x: number } }).cursor?.x === 10), 5_000, 'cursor from B seen on A');

    const left = Date.now();
    onB.close();
    await until(() => !names(onA).includes('Bob') && !names(watcherA).includes('Bob'), 5_000, 'Bob gone on node A');
    expect(Date.now() - left).toBeLessThan(5_000);
    onA.close();
    await until(() => !names(watcherA).includes('Ann'), 5_000, 'Ann gone for the watcher on A');
  }, 60_000);

  it('roles hold across nodes: replacing a link on node A cuts its holders off on node B; deleting the room empties it everywhere', async () => {
    const [A, B] = cluster.nodes;
    const roomId = await createRoom(A.url);
    const owner = await connectPeer(A.url, roomId, { role: 'owner' });
    peers.push(owner);
    const viewerOnB = await connectPeer(B.url, roomId, { role: 'viewer' });
    peers.push(viewerOnB);
    const editorOnB = await peer(B.url, roomId);
    // a viewer on B writes nothing, whatever it sends
    viewerOnB.records.set('shape:by-viewer', drawShape(1));
    await viewerOnB.acked();
    expect(viewerOnB.nacks.some((n) => n.error?.code === 'forbidden')).toBe(true);
    const revoked: RoomRevoked[] = [];
    viewerOnB.socket.on(ACCESS_EV.revoked, (m: RoomRevoked) => revoked.push(m));
    expect(await owner.socket.emitWithAck(ACCESS_EV.rotateLink, { roomId, role: 'viewer' })).toMatchObject({ ok: true });
    await until(() => revoked.length === 1 && !viewerOnB.socket.connected, 5_000, 'the viewer on B cut off');
    expect(editorOnB.socket.connected).toBe(true);

    editorOnB.records.set('shape:kept-until-deleted', drawShape(2));
    await editorOnB.acked();
    expect(await owner.socket.emitWithAck(ACCESS_EV.deleteRoom, { roomId })).toMatchObject({ ok: true });
    await until(() => !editorOnB.socket.connected, 5_000, 'the editor on B cut off by the deletion');
    // gone for good: the old links are refused on both nodes, nothing was written back
    await new Promise((r) => setTimeout(r, 2_000));
    for (const node of [A, B]) {
      const again = await connectPeer(node.url, roomId, { waitSync: false });
      peers.push(again);
      await until(() => again.nacks.length > 0, 5_000, 'join refused');
      expect(again.nacks[0]?.error?.code).toBe('no-such-room');
    }
  }, 60_000);

  it('/healthz reports the mode, the node id, Redis and PostgreSQL with their latency', async () => {
    const [A, B] = cluster.nodes;
    for (const [node, id] of [
      [A, 'web-1'],
      [B, 'web-2'],
    ] as const) {
      const health = (await (await fetch(`${node.url}/healthz`)).json()) as { cluster: Record<string, any> };
      expect(health.cluster.mode).toBe('cluster');
      expect(health.cluster.nodeId).toBe(id);
      expect(health.cluster.store).toBe('postgres');
      expect(health.cluster.postgres.reachable).toBe(true);
      expect(health.cluster.postgres.latencyMs).toBeGreaterThanOrEqual(0);
      expect(health.cluster.redis.reachable).toBe(true);
      await until(async () => {
        const h = (await (await fetch(`${node.url}/healthz`)).json()) as { cluster: { nodes: Record<string, number>; redis: { latencyMs: number | null } } };
        return Object.keys(h.cluster.nodes).length === 1 && h.cluster.redis.latencyMs !== null;
      }, 5_000, 'the other node heard from');
    }
  }, 30_000);
});
