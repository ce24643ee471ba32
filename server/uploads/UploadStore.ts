// Files people put on the canvas (images), kept in the room database file (RoomStore.db) in the
// `upload_files` table. Content-addressed per room: the same file uploaded twice is stored once,
// and its URL never changes meaning, so it can be cached forever.
import type Database from 'better-sqlite3';
import { createHash } from 'node:crypto';

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
  private readonly stmts;

  constructor(db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS upload_files (
        room_id TEXT NOT NULL,
        id TEXT NOT NULL,
        mime TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (room_id, id)
      );
    `);
    this.stmts = {
      insert: db.prepare(
        `INSERT INTO upload_files (room_id, id, mime, bytes, width, height, created_at, data)
         VALUES (@roomId, @id, @mime, @bytes, @width, @height, @createdAt, @data)
         ON CONFLICT (room_id, id) DO NOTHING`,
      ),
      meta: db.prepare<[string, string], StoredUpload>(
        `SELECT room_id AS roomId, id, mime, bytes, width, height, created_at AS createdAt
         FROM upload_files WHERE room_id = ? AND id = ?`,
      ),
      data: db.prepare<[string, string], { data: Buffer }>('SELECT data FROM upload_files WHERE room_id = ? AND id = ?'),
      roomBytes: db.prepare<[string], { total: number | null }>('SELECT SUM(bytes) AS total FROM upload_files WHERE room_id = ?'),
    };
  }

  /** Store a file (once); returns its record. `id` must be uploadIdOf(data) (given when it was
   * computed while the file arrived). */
  put(roomId: string, mime: string, data: Uint8Array, size: { width: number; height: number }, id = uploadIdOf(data)): StoredUpload {
    this.stmts.insert.run({
      roomId,
      id,
      mime,
      bytes: data.byteLength,
      width: size.width,
      height: size.height,
      createdAt: Date.now(),
      data: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    });
    return this.meta(roomId, id)!;
  }

  meta(roomId: string, id: string): StoredUpload | undefined {
    return this.stmts.meta.get(roomId, id);
  }

  data(roomId: string, id: string): Buffer | undefined {
    return this.stmts.data.get(roomId, id)?.data;
  }

  /** Bytes stored for a room so far. */
  roomBytes(roomId: string): number {
    return this.stmts.roomBytes.get(roomId)?.total ?? 0;
  }
}
