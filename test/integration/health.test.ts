// GET /healthz reports liveness, version and load.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, type Peer } from '../helpers/yclient';

let server: TestServer;
const peers: Peer[] = [];

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  for (const p of peers) p.close();
  await server?.stop();
});

const health = async () => {
  const res = await fetch(`${server.url}/healthz`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  return (await res.json()) as Record<string, unknown>;
};

describe('/healthz', () => {
  it('reports ok, version, rooms, clients and uptime', async () => {
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
    const idle = await health();
    expect(idle).toMatchObject({ ok: true, version, rooms: 0, clients: 0 });
    expect(typeof idle.uptimeS).toBe('number');
    expect(idle.uptimeS as number).toBeGreaterThanOrEqual(0);

    const r1 = await createRoom(server.url);
    const r2 = await createRoom(server.url);
    peers.push(await connectPeer(server.url, r1), await connectPeer(server.url, r1), await connectPeer(server.url, r2));
    expect(await health()).toMatchObject({ ok: true, rooms: 2, clients: 3 });
  });

  it('refuses other methods; other paths are 404 when the web app is off (LC_WEB=0)', async () => {
    expect((await fetch(`${server.url}/healthz`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${server.url}/`)).status).toBe(404);
  });
});

describe('startup', () => {
  it('a bad configuration stops the start with one line naming the variable (exit code 2)', () => {
    for (const [env, expected] of [
      [{ PORT: 'abc' }, /PORT="abc" must be a number/],
      [{ COMPACT_EVERY: '0' }, /COMPACT_EVERY="0" must be at least 1/],
      [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL="loud" must be one of/],
    ] as const) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
        cwd: ROOT,
        env: { ...process.env, LC_WEB: '0', ...env },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(expected);
    }
  });
});
