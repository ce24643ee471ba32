// Rooms are created only by an explicit act (POST /api/rooms), and one client address may create
// only ROOMS_PER_HOUR of them (hardening finding 6: rooms per client address).
import { io } from 'socket.io-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EV } from '../../lib/protocol/events';
import { CreatedRoom } from '../../lib/protocol/access';
import { startServer, type TestServer } from '../helpers/server';
import { randomRoomId } from '../helpers/yclient';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ env: { ROOMS_PER_HOUR: '3' } });
});
afterAll(async () => {
  await server?.stop();
});

it('creates ROOMS_PER_HOUR rooms per address, then answers 429 with the reason', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const res = await fetch(`${server.url}/api/rooms`, { method: 'POST' });
    statuses.push(res.status);
    if (res.status === 201) expect(CreatedRoom.safeParse(await res.json()).success).toBe(true);
    else expect(((await res.json()) as { error: string }).error).toMatch(/ROOMS_PER_HOUR/);
  }
  expect(statuses).toEqual([201, 201, 201, 429]);
});

it('joining a made-up room id creates nothing: 5 joins (under the 8 rooms a socket may hold) are refused with no-such-room and /healthz counts no room', async () => {
  const before = ((await (await fetch(`${server.url}/healthz`)).json()) as { rooms: number }).rooms;
  const socket = io(server.url, { transports: ['websocket'], forceNew: true, reconnection: false });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    const acks = await Promise.all(
      Array.from({ length: 5 }, () => socket.timeout(5000).emitWithAck(EV.roomJoin, { roomId: randomRoomId(), user: { name: 'flood', color: '#000000' } })),
    );
    expect(acks.filter((a: { ok: boolean }) => a.ok)).toHaveLength(0);
    expect(acks[0]).toMatchObject({ ok: false, error: { code: 'no-such-room' } });
    const after = ((await (await fetch(`${server.url}/healthz`)).json()) as { rooms: number }).rooms;
    expect(after).toBe(before);
  } finally {
    socket.close();
  }
});
