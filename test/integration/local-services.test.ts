// scripts/localServices.ts: Redis and PostgreSQL started from the binaries on free ports answer,
// restart on the same port (Redis without persistence, PostgreSQL keeping its rows), and stop
// without leaving a process or a temp dir behind.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/server';
import { startPostgres, startRedis, stopAllServices } from '../helpers/services';

afterAll(() => stopAllServices());

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Pids whose parent is `pid` (postgres' backends and background workers put themselves in
 * their own sessions, so a process group says nothing about them). */
function childrenOf(pid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …; comm may contain spaces, so split after the last ')'
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) pids.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return pids;
}

async function query(url: string, sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

describe('startRedis', () => {
  it('answers PING, forgets its keys on restart, and stops without leftovers', async () => {
    const redis = await startRedis();
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    await client.connect();
    expect(await client.ping()).toBe('PONG');
    await client.set('lc:test', 'before restart');
    expect(await client.get('lc:test')).toBe('before restart');
    client.disconnect();

    const firstPid = redis.proc.pid!;
    await redis.restart();
    expect(pidAlive(firstPid)).toBe(false);
    expect(redis.proc.pid).not.toBe(firstPid);

    const again = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    again.on('error', () => {});
    await again.connect();
    // no persistence: Redis holds only rebuildable state
    expect(await again.get('lc:test')).toBeNull();
    again.disconnect();

    const pid = redis.proc.pid!;
    await redis.stop();
    expect(pidAlive(pid)).toBe(false);
    await redis.stop(); // idempotent
  });

  it('keeps a given dir and removes its own temp dir on stop', async () => {
    const given = mkdtempSync(join(tmpdir(), 'lc-redis-given-'));
    try {
      const a = await startRedis({ dir: given });
      const b = await startRedis();
      const tempDir = b.proc.spawnargs[b.proc.spawnargs.indexOf('--dir') + 1];
      expect(existsSync(tempDir)).toBe(true);
      await Promise.all([a.stop(), b.stop()]);
      expect(existsSync(given)).toBe(true);
      expect(existsSync(tempDir)).toBe(false);
    } finally {
      rmSync(given, { recursive: true, force: true });
    }
  });
});

describe('startPostgres', () => {
  it('answers SELECT 1, keeps rows across a restart, and stops without leftovers', async () => {
    const db = await startPostgres();
    expect(db.url).toBe(`postgres://livecanvas@127.0.0.1:${db.port}/livecanvas`);
    expect(existsSync(join(db.dir, 'PG_VERSION'))).toBe(true);
    expect((await query(db.url, 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await query(db.url, 'CREATE TABLE kept (id int PRIMARY KEY, note text)');
    await query(db.url, 'INSERT INTO kept VALUES ($1, $2)', [1, 'before restart']);

    const firstPid = db.proc.pid!;
    const firstChildren = childrenOf(firstPid);
    expect(firstChildren.length).toBeGreaterThan(0); // checkpointer, walwriter, …
    await db.restart();
    expect(pidAlive(firstPid)).toBe(false);
    expect(firstChildren.filter(pidAlive)).toEqual([]);
    expect((await query(db.url, 'SELECT note FROM kept WHERE id = 1')).rows).toEqual([{ note: 'before restart' }]);

    const pid = db.proc.pid!;
    const children = childrenOf(pid);
    expect(children.length).toBeGreaterThan(0);
    await db.stop();
    expect(pidAlive(pid)).toBe(false);
    // postgres' backends and background workers are gone too, not only the postmaster
    expect(children.filter(pidAlive)).toEqual([]);
    expect(existsSync(db.dir)).toBe(false); // temp dir removed
  });

  it('reuses a given data dir (no second initdb) and keeps it on stop', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'lc-pg-given-')), 'data');
    // mkdtemp makes it 0700; as root, postgres runs as the postgres user, which must get through it
    chmodSync(join(dir, '..'), 0o755);
    try {
      const first = await startPostgres({ dir, fast: false });
      await query(first.url, 'CREATE TABLE rooms_seen (name text)');
      await query(first.url, "INSERT INTO rooms_seen VALUES ('kept across runs')");
      await first.stop();
      expect(existsSync(join(dir, 'PG_VERSION'))).toBe(true);

      const second = await startPostgres({ dir });
      expect((await query(second.url, 'SELECT name FROM rooms_seen')).rows).toEqual([{ name: 'kept across runs' }]);
      await second.stop();
      expect(existsSync(join(dir, 'PG_VERSION'))).toBe(true);
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });
});

describe('the exit hook', () => {
  it('kills the services of a process that exits without stopping them', async () => {
    const script = [
      "import { startPostgres, startRedis } from './scripts/localServices.ts';",
      'const r = await startRedis();',
      'const p = await startPostgres({ fast: true });',
      'console.log(JSON.stringify({ redis: r.proc.pid, postgres: p.proc.pid, dir: p.dir }));',
      'process.exit(0);',
    ].join('\n');
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const { redis, postgres, dir } = JSON.parse(run.stdout.trim().split('\n').pop()!) as { redis: number; postgres: number; dir: string };
    for (let i = 0; i < 50 && (pidAlive(redis) || pidAlive(postgres)); i++) await new Promise((r) => setTimeout(r, 100));
    expect(pidAlive(redis)).toBe(false);
    expect(pidAlive(postgres)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });
});
