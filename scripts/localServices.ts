// Local Redis and PostgreSQL for cluster mode, started from the installed binaries on free ports
// with their own data dirs: no system services, no config files. The one implementation used by
// the tests (test/helpers/services.ts), `npm run cluster:local` and the benchmarks.
//
// Debian packages: redis-server (/usr/bin/redis-server) and postgresql (/usr/lib/postgresql/<v>/bin,
// not on PATH). PostgreSQL refuses to run as root, so as root initdb and postgres run as the
// `postgres` user (spawned with its uid/gid) on a data dir chown'ed to it.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { alive, exited, freePort, onPath, signal, spawnService, STOP_TIMEOUT_MS, stopProc, track, waitReady } from './serviceProcess';

export { freePort, stopAllServices } from './serviceProcess';

export interface ServiceOptions {
  /** port to listen on (127.0.0.1); default: a free one */
  port?: number;
  /** data dir, kept on stop; default: a temp dir removed on stop */
  dir?: string;
}

export interface PostgresOptions extends ServiceOptions {
  /** fsync, synchronous_commit and full_page_writes off: fast and fine for tests, not durable
   * against a machine crash (a clean stop/restart still keeps everything). Default false. */
  fast?: boolean;
}

export interface LocalService {
  url: string;
  port: number;
  /** the current process (a new one after restart()) */
  readonly proc: ChildProcess;
  /** the last 64 KB of the process' output, for error messages */
  output(): string;
  stop(): Promise<void>;
  /** stop, then start again on the same port (and dir) */
  restart(): Promise<void>;
}

export interface LocalRedis extends LocalService {}

export interface LocalPostgres extends LocalService {
  dir: string;
}

export const PG_USER = 'livecanvas';
export const PG_DATABASE = 'livecanvas';

// ---- binaries ----------------------------------------------------------------------------------

export function redisServerBinary(): string {
  const found = onPath('redis-server') ?? (existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : undefined);
  if (!found) throw new Error('redis-server not found on PATH: install the Debian package redis-server (apt-get install redis-server)');
  return found;
}

/** The folder with postgres and initdb: the highest /usr/lib/postgresql/<version>/bin (Debian keeps
 * them off PATH), else PATH. */
export function postgresBinDir(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => existsSync(join(base, v, 'bin', 'postgres')) && existsSync(join(base, v, 'bin', 'initdb')))
        .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    : [];
  if (versions.length) return join(base, versions[0], 'bin');
  const postgres = onPath('postgres');
  if (postgres && onPath('initdb')) return resolve(postgres, '..');
  throw new Error(
    'PostgreSQL binaries (postgres, initdb) not found in /usr/lib/postgresql/*/bin or on PATH: install the Debian package postgresql (apt-get install postgresql)',
  );
}

// ---- Redis -----------------------------------------------------------------------------------------

/** One RESP command over a fresh TCP connection; resolves with the raw reply ('' if the server
 * closed without one, as SHUTDOWN does). */
export function redisCommand(port: number, args: string[], timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let reply = '';
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error(`redis on ${port}: no reply`));
    }, timeoutMs);
    sock.on('connect', () => {
      sock.write(`*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(''));
    });
    sock.on('data', (d) => {
      reply += d;
      if (reply.endsWith('\r\n')) {
        clearTimeout(t);
        sock.end();
        resolve(reply);
      }
    });
    sock.on('error', (err) => {
      clearTimeout(t);
      reject(err);
    });
    sock.on('close', () => {
      clearTimeout(t);
      resolve(reply);
    });
  });
}

export async function startRedis(opts: ServiceOptions = {}): Promise<LocalRedis> {
  const bin = redisServerBinary();
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ? resolve(opts.dir) : mkdtempSync(join(tmpdir(), 'lc-redis-'));
  mkdirSync(dir, { recursive: true });
  const ownDir = !opts.dir;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'];
  const t = track(
    async () => {
      const s = spawnService(bin, args, { cwd: dir });
      await waitReady('redis-server', s, async () => (await redisCommand(port, ['PING'])).startsWith('+PONG'));
      return s;
    },
    async (s) => {
      if (!alive(s.proc)) return;
      const done = exited(s.proc);
      await redisCommand(port, ['SHUTDOWN', 'NOSAVE']).catch(() => signal(s.proc, 'SIGTERM'));
      const timer = setTimeout(() => signal(s.proc, 'SIGKILL'), STOP_TIMEOUT_MS);
      await done;
      clearTimeout(timer);
    },
    () => {
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  );
  try {
    await t.launch();
  } catch (err) {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get proc() {
      return t.proc;
    },
    output: t.output,
    stop: t.stop,
    restart: t.restart,
  };
}

// ---- PostgreSQL ---------------------------------------------------------------------------------

interface RunAs {
  uid?: number;
  gid?: number;
}

/** As root: the uid/gid of the Debian `postgres` user (PostgreSQL refuses to run as root). */
function postgresUser(): RunAs {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => {
    const r = spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
    return r.status === 0 ? Number(r.stdout.trim()) : NaN;
  };
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new Error('running as root, and PostgreSQL refuses to run as root: no `postgres` user to run it as (install the Debian package postgresql, which creates it)');
  }
  return { uid, gid };
}

/** As root: hands the data dir to the postgres user and checks that user can reach it. */
function prepareDataDir(dir: string, user: RunAs) {
  mkdirSync(dir, { recursive: true });
  if (user.uid === undefined) return;
  const chownTree = (path: string) => {
    chownSync(path, user.uid!, user.gid!);
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const p = join(path, entry.name);
      if (entry.isDirectory()) chownTree(p);
      else if (!entry.isSymbolicLink()) chownSync(p, user.uid!, user.gid!);
    }
  };
  chownTree(dir);
  const r = spawnSync('/bin/sh', ['-c', 'test -w "$1" && test -x "$1"', 'sh', dir], { uid: user.uid, gid: user.gid });
  if (r.status !== 0) {
    // name the first folder on the way that the postgres user may not enter
    let blocked = dir;
    for (let p = dirname(dir), prev = ''; p !== prev; prev = p, p = dirname(p)) {
      const st = statSync(p);
      const x = st.uid === user.uid ? st.mode & 0o100 : st.gid === user.gid ? st.mode & 0o010 : st.mode & 0o001;
      if (!x) blocked = p;
    }
    throw new Error(
      `PostgreSQL runs as the postgres user (it refuses root), which cannot reach ${dir}` +
        (blocked !== dir ? `: ${blocked} is not searchable by it (chmod o+x ${blocked}, or use another dir)` : ''),
    );
  }
}

async function pgQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(port: number, database: string, sql: string): Promise<pg.QueryResult<T>> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: PG_USER, database, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.query<T>(sql);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function startPostgres(opts: PostgresOptions = {}): Promise<LocalPostgres> {
  const binDir = postgresBinDir();
  const user = postgresUser();
  const port = opts.port ?? (await freePort());
  const ownDir = !opts.dir;
  const dir = opts.dir ? resolve(opts.dir) : mkdtempSync(join(tmpdir(), 'lc-pg-'));
  // the unix socket goes in the data dir unless that path is too long for a socket (107 bytes)
  let socketDir = dir;
  let ownSocketDir = false;
  const cleanup = () => {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    if (ownSocketDir) rmSync(socketDir, { recursive: true, force: true });
  };
  try {
    prepareDataDir(dir, user);
    if (!existsSync(join(dir, 'PG_VERSION'))) {
      const r = spawnSync(
        join(binDir, 'initdb'),
        ['-D', dir, '-A', 'trust', '-U', PG_USER, '--encoding', 'UTF8', '--no-locale', '--no-sync'],
        { ...user, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' }, cwd: dir },
      );
      if (r.error) throw r.error;
      if (r.status !== 0) throw new Error(`initdb failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
    }
    if (Buffer.byteLength(join(dir, `.s.PGSQL.${port}`)) > 100) {
      socketDir = mkdtempSync(join(tmpdir(), 'lc-pgsock-'));
      ownSocketDir = true;
      prepareDataDir(socketDir, user);
    }
  } catch (err) {
    cleanup();
    throw err;
  }
  const args = ['-D', dir, '-k', socketDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1'];
  if (opts.fast) args.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const t = track(
    async () => {
      const s = spawnService(join(binDir, 'postgres'), args, { ...user, cwd: dir });
      const ready = async () => (await pgQuery(port, 'postgres', 'SELECT 1')).rowCount === 1;
      await waitReady('postgres', s, ready, async () => {
        const found = await pgQuery(port, 'postgres', `SELECT 1 FROM pg_database WHERE datname = '${PG_DATABASE}'`);
        if (found.rowCount) return;
        await pgQuery(port, 'postgres', `CREATE DATABASE ${PG_DATABASE}`).catch((err) => {
          // 42P04 duplicate_database: created meanwhile
          if ((err as { code?: string }).code !== '42P04') throw err;
        });
      });
      return s;
    },
    // SIGINT = fast shutdown: ends sessions, writes a checkpoint, exits
    (s) => stopProc(s.proc, 'SIGINT'),
    cleanup,
  );
  try {
    await t.launch();
  } catch (err) {
    cleanup();
    throw err;
  }
  return {
    url: `postgres://${PG_USER}@127.0.0.1:${port}/${PG_DATABASE}`,
    port,
    dir,
    get proc() {
      return t.proc;
    },
    output: t.output,
    stop: t.stop,
    restart: t.restart,
  };
}
