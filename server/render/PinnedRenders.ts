// Pinned renders: a render's JPEG copied out of the in-memory history into SQLite, so the image
// shape placed on the canvas keeps working after the history has moved on or the server restarted.
// Lives in the room database file (RoomStore.db) in its own `render_assets` table.
import type Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';

export interface PinnedAsset {
  assetId: string;
  roomId: string;
  frameId: string;
  seq: number;
  width: number;
  height: number;
  seed: number;
  model: string;
  createdAt: number;
}

export class PinnedRenders {
  private readonly stmts;

  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS render_assets (
        room_id TEXT NOT NULL,
        asset_id TEXT NOT NULL,
        frame_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        seed INTEGER NOT NULL,
        model TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (room_id, asset_id),
        UNIQUE (room_id, frame_id, seq)
      );
    `);
    this.stmts = {
      insert: db.prepare(
        `INSERT INTO render_assets (room_id, asset_id, frame_id, seq, width, height, seed, model, created_at, data)
         VALUES (@roomId, @assetId, @frameId, @seq, @width, @height, @seed, @model, @createdAt, @data)
         ON CONFLICT (room_id, frame_id, seq) DO NOTHING`,
      ),
      byRender: db.prepare<[string, string, number], { asset_id: string }>(
        'SELECT asset_id FROM render_assets WHERE room_id = ? AND frame_id = ? AND seq = ?',
      ),
      meta: db.prepare<[string, string], Record<string, unknown>>(
        `SELECT asset_id AS assetId, room_id AS roomId, frame_id AS frameId, seq, width, height, seed, model,
                created_at AS createdAt FROM render_assets WHERE room_id = ? AND asset_id = ?`,
      ),
      data: db.prepare<[string, string], { data: Buffer }>(
        'SELECT data FROM render_assets WHERE room_id = ? AND asset_id = ?',
      ),
    };
  }

  /** Stores a render once; pinning the same render again returns the same asset id. */
  put(a: Omit<PinnedAsset, 'assetId' | 'createdAt'> & { jpeg: Uint8Array }): string {
    const assetId = randomBytes(12).toString('base64url');
    const { jpeg, ...meta } = a;
    this.stmts.insert.run({ ...meta, assetId, createdAt: Date.now(), data: Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength) });
    return this.stmts.byRender.get(a.roomId, a.frameId, a.seq)!.asset_id;
  }

  meta(roomId: string, assetId: string): PinnedAsset | undefined {
    return this.stmts.meta.get(roomId, assetId) as PinnedAsset | undefined;
  }

  jpeg(roomId: string, assetId: string): Buffer | undefined {
    return this.stmts.data.get(roomId, assetId)?.data;
  }
}
