// Presence (y-protocols awareness) through the server: peers see each other's state, newcomers get
// everyone's state on join, and a client that goes away disappears for the others within 5 s.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, randomRoomId, until, type Peer } from '../helpers/yclient';

let server: TestServer;
const peers: Peer[] = [];
const peer = async (roomId: string, name: string) => {
  const p = await connectPeer(server.url, roomId, { user: { name, color: '#aa3300' } });
  peers.push(p);
  return p;
};
const names = (p: Peer) =>
  [...p.awareness.getStates().entries()]
    .filter(([id]) => id !== p.doc.clientID)
    .map(([, s]) => (s as { user?: { name: string } }).user?.name)
    .sort();

beforeAll(async () => {
  server = await startServer();
});
afterEach(() => {
  for (const p of peers.splice(0)) p.close();
});
afterAll(async () => {
  await server?.stop();
});

describe('presence', () => {
  it('peers see each other; a newcomer gets everyone at once; cursor moves propagate', async () => {
    const roomId = randomRoomId();
    const a = await peer(roomId, 'Ada');
    const b = await peer(roomId, 'Bob');
    await until(() => names(b).join() === 'Ada' && names(a).join() === 'Bob', 2000, 'a and b see each other');
    const c = await peer(roomId, 'Cy');
    await until(() => names(c).join() === 'Ada,Bob', 2000, 'newcomer sees both');
    a.awareness.setLocalStateField('cursor', { x: 10, y: 20 });
    await until(
      () => (b.awareness.getStates().get(a.doc.clientID) as { cursor?: { x: number } })?.cursor?.x === 10,
      2000,
      'b sees a cursor',
    );
  });

  it('a disconnected client disappears for the others within 5 s', async () => {
    const roomId = randomRoomId();
    const a = await peer(roomId, 'Ada');
    const b = await peer(roomId, 'Bob');
    await until(() => names(b).includes('Ada'), 2000, 'b sees a');
    const t0 = Date.now();
    a.disconnect();
    await until(() => !names(b).includes('Ada'), 5000, 'a gone for b');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a transport that closes without a socket.io disconnect disappears within 5 s', async () => {
    const roomId = randomRoomId();
    const a = await peer(roomId, 'Ada');
    const b = await peer(roomId, 'Bob');
    await until(() => names(b).includes('Ada'), 2000, 'b sees a');
    // Close the transport under socket.io: no disconnect packet reaches the server.
    a.socket.io.engine.close();
    await until(() => !names(b).includes('Ada'), 5000, 'a gone for b');
  });

  it('leaving the room (while staying connected) removes the cursor too', async () => {
    const roomId = randomRoomId();
    const a = await peer(roomId, 'Ada');
    const b = await peer(roomId, 'Bob');
    await until(() => names(b).includes('Ada'), 2000, 'b sees a');
    expect(await a.socket.emitWithAck('room:leave', { roomId })).toEqual({ ok: true });
    await until(() => !names(b).includes('Ada'), 5000, 'a gone for b');
    expect(a.socket.connected).toBe(true);
  });
});
