// `npm start` (scripts/start.mjs → server/index.ts) stops cleanly: Ctrl-C in a terminal sends
// SIGINT to the whole process group — start.mjs and the server both get it — and a second Ctrl-C
// must not cut the flush short. Every room is compacted and the exit code is 0.
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, TINY_MODELS_DIR, freePort } from '../helpers/server';
import { connectPeer, createRoom, drawShape, until, type Peer } from '../helpers/yclient';

const groups: ChildProcess[] = [];
const peers: Peer[] = [];

afterEach(() => {
  for (const p of peers.splice(0)) p.close();
  for (const c of groups.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
});

/** `node scripts/start.mjs` in a process group of its own, like a shell job in a terminal. */
async function npmStart() {
  const dataDir = mkdtempSync(join(tmpdir(), 'lc-start-'));
  const port = await freePort();
  const proc = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      LC_WEB: '0', // no web build needed
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      MODELS_DIR: TINY_MODELS_DIR,
      MODEL: '',
      LOG_LEVEL: 'info',
      COMPACT_EVERY: '100000',
      COMPACT_INTERVAL_S: '3600',
    },
  });
  groups.push(proc);
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${port}`;
  await until(
    async () => {
      if (proc.exitCode !== null) throw new Error(`npm start exited (${proc.exitCode}):\n${out}`);
      return fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    },
    60_000,
    'npm start serves /healthz',
  );
  return { proc, url, dataDir, exited, output: () => out };
}

/** A room with 30 shapes, acknowledged (so in the update log, not compacted yet); its client stays. */
async function roomWithContent(url: string) {
  const roomId = await createRoom(url);
  const p = await connectPeer(url, roomId);
  peers.push(p);
  for (let i = 0; i < 30; i++) p.records.set(`shape:${i}`, drawShape(i));
  await p.acked();
  return roomId;
}

function expectCompacted(dataDir: string, roomId: string) {
  const db = new Database(join(dataDir, 'livecanvas.sqlite'), { readonly: true });
  const updates = db.prepare('SELECT COUNT(*) AS n FROM updates WHERE room_id = ?').get(roomId) as { n: number };
  const snap = db.prepare('SELECT data FROM snapshots WHERE room_id = ?').get(roomId) as { data: Buffer } | undefined;
  db.close();
  expect(updates.n).toBe(0);
  expect(snap).toBeDefined();
  const doc = new Y.Doc();
  Y.applyUpdate(doc, new Uint8Array(snap!.data));
  expect(doc.getMap('tl_records').size).toBe(30);
}

describe('npm start', () => {
  it('Ctrl-C (SIGINT to the process group) flushes every room and exits 0', async () => {
    const s = await npmStart();
    const roomId = await roomWithContent(s.url);
    process.kill(-s.proc.pid!, 'SIGINT');
    expect(await s.exited, s.output()).toBe(0);
    expectCompacted(s.dataDir, roomId);
    expect(s.output()).toMatch(/shutting down: flushing rooms/);
  });

  it('Ctrl-C twice in a row still finishes the flush', async () => {
    const s = await npmStart();
    const roomId = await roomWithContent(s.url);
    process.kill(-s.proc.pid!, 'SIGINT');
    try {
      process.kill(-s.proc.pid!, 'SIGINT');
    } catch {
      /* everything already exited */
    }
    expect(await s.exited, s.output()).toBe(0);
    expectCompacted(s.dataDir, roomId);
  });

  it('SIGTERM to start.mjs alone (a process manager) reaches the server', async () => {
    const s = await npmStart();
    const roomId = await roomWithContent(s.url);
    s.proc.kill('SIGTERM');
    expect(await s.exited, s.output()).toBe(0);
    expectCompacted(s.dataDir, roomId);
  });
});
