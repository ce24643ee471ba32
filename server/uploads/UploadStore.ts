// Files people put on the canvas (images), kept in the room database (RoomStore.sql) in the
// `upload_files` table. Content-addressed per room: the same file uploaded twice is stored once,
// and its URL never changes meaning, so it can be cached forever.
import { createHash } from 'node:crypto';
import type { SqlDatabase } from '../store/sql/SqlDatabase';

export interface StoredUpload {
  roomId: string;
  id: string;
  mime: string;
  bytes: number;
  width: number;
  height: number;
  createdAt: number;
}

/** The id of a file's content (see UPLOAD_ID_PATTERN), from its SHA-256. */
export const uploadIdFromSha256 = (digest: Buffer) => digest.subarray(0, 18).toString('base64url');
/** The id of a file's content (see UPLOAD_ID_PATTERN). */
export const uploadIdOf = (data: Uint8Array) => uploadIdFromSha256(createHash('sha256').update(data).digest());

export class UploadStore {
  private constructor(private readonly db: SqlDatabase) {}

  /** The table, created if it is not there yet. */
  static async open(db: SqlDatabase): Promise<UploadStore> {
    const { bigint, blob } = db.types;
    await db.exec(`
      CREATE TABLE IF NOT EXISTS upload_files (
        room_id TEXT NOT NULL,
        id TEXT NOT NULL,
        mime TEXT NOT NULL,
        bytes ${bigint} NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        created_at ${bigint} NOT NULL,
        data ${blob} NOT NULL,
        PRIMARY KEY (room_id, id)
      );
    `);
    return new UploadStore(db);
  }

  /** Store a file (once); returns its record. `id` must be uploadIdOf(data) (given when it was
   * computed while the file arrived). */
  async put(roomId: string, mime: string, data: Uint8Array, size: { width: number; height: number }, id = uploadIdOf(data)): Promise<StoredUpload> {
    await this.db.run(
      `INSERT INTO upload_files (room_id, id, mime, bytes, width, height, created_at, data)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (room_id, id) DO NOTHING`,
      [roomId, id, mime, data.byteLength, size.width, size.height, Date.now(), data],
    );
    return (await this.meta(roomId, id))!;
  }

  async meta(roomId: string, id: string): Promise<StoredUpload | undefined> {
    const [row] = await this.db.query<StoredUpload>(
      `SELECT room_id AS "roomId", id, mime, bytes, width, height, created_at AS "createdAt"
         FROM upload_files WHERE room_id = $1 AND id = $2`,
      [roomId, id],
    );
    return row;
  }

  async data(roomId: string, id: string): Promise<Buffer | undefined> {
    const [row] = await this.db.query<{ data: Buffer }>('SELECT data FROM upload_files WHERE room_id = $1 AND id = $2', [roomId, id]);
    return row?.data;
  }

  /** Bytes stored for a room so far. */
  async roomBytes(roomId: string): Promise<number> {
    const [row] = await this.db.query<{ total: number | null }>('SELECT SUM(bytes) AS total FROM upload_files WHERE room_id = $1', [roomId]);
    return row?.total ?? 0;
  }
}
