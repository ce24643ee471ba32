// Rooms are created only by an explicit act (POST /api/rooms), and one client address may create
// only ROOMS_PER_HOUR of them (hardening finding 6: rooms per client address).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CreatedRoom } from '../../lib/protocol/access';
import { startServer, type TestServer } from '../helpers/server';

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
