// The RoomStore this process uses: PostgreSQL when DATABASE_URL is set (cluster mode), else the
// embedded SQLite file in DATA_DIR — the default that needs nothing installed.
import type { ServerConfig } from '../config';
import type { Logger } from '../logger';
import { PostgresRoomStore } from './PostgresRoomStore';
import type { RoomStore } from './RoomStore';
import { SqliteRoomStore } from './SqliteRoomStore';
import { PostgresDatabase } from './sql/postgresDatabase';
import { createPostgresPool, describePostgresUrl } from './sql/postgresPool';

export async function openRoomStore(config: ServerConfig, logger: Logger): Promise<RoomStore> {
  const { databaseUrl, databasePoolSize } = config.cluster;
  if (!databaseUrl) return new SqliteRoomStore(config.dataDir, { synchronous: config.sqliteSync, ...config.storage, logger });
  const pool = createPostgresPool(databaseUrl, { max: databasePoolSize });
  const sql = new PostgresDatabase(pool, describePostgresUrl(databaseUrl));
  try {
    return await PostgresRoomStore.open(sql, { maxStoreBytes: config.storage.maxStoreBytes, roomTtlMs: config.storage.roomTtlMs, logger });
  } catch (e) {
    await sql.close().catch(() => {});
    throw e;
  }
}
