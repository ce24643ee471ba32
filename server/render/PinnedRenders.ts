// Pinned renders: a render's JPEG copied out of the in-memory history into the database, so the image
// shape placed on the canvas keeps working after the history has moved on or the server restarted.
// Lives in the room database (RoomStore.sql) in its own `render_assets` table.
import { randomBytes } from 'node:crypto';
import { ClientError } from '../socket/ClientError';
import type { RoomStore } from '../store/RoomStore';
import type { SqlDatabase } from '../store/sql/SqlDatabase';

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
  private constructor(
    private readonly db: SqlDatabase,
    private readonly quota?: Pick<RoomStore, 'quotaRefusal'>,
  ) {}

  /** The table, created if it is not there yet. Seeds go up to 2^32 - 1: 64-bit on PostgreSQL. */
  static async open(db: SqlDatabase, quota?: Pick<RoomStore, 'quotaRefusal'>): Promise<PinnedRenders> {
    const { bigint, blob } = db.types;
    await db.exec(`
      CREATE TABLE IF NOT EXISTS render_assets (
        room_id TEXT NOT NULL,
        asset_id TEXT NOT NULL,
        frame_id TEXT NOT NULL,
        seq ${bigint} NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        seed ${bigint} NOT NULL,
        model TEXT NOT NULL,
        created_at ${bigint} NOT NULL,
        data ${blob} NOT NULL,
        PRIMARY KEY (room_id, asset_id),
        UNIQUE (room_id, frame_id, seq)
      );
    `);
    return new PinnedRenders(db, quota);
  }

  /** Stores a render once; pinning the same render again returns the same asset id. A new one is
   * refused (`too-large`, no violation) while the store is over its quota (STORE_MAX_MB). */
  async put(a: Omit<PinnedAsset, 'assetId' | 'createdAt'> & { jpeg: Uint8Array }): Promise<string> {
    const stored = await this.find(a.roomId, a.frameId, a.seq);
    if (stored) return stored;
    const full = this.quota?.quotaRefusal(a.jpeg.byteLength);
    if (full) throw new ClientError('too-large', `${full}; the render was not pinned`, { violation: false });
    const assetId = randomBytes(12).toString('base64url');
    const inserted = await this.db.run(
      `INSERT INTO render_assets (room_id, asset_id, frame_id, seq, width, height, seed, model, created_at, data)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (room_id, frame_id, seq) DO NOTHING`,
      [a.roomId, assetId, a.frameId, a.seq, a.width, a.height, a.seed, a.model, Date.now(), a.jpeg],
    );
    // 0 rows: a concurrent pin of the same render stored it first
    return inserted === 1 ? assetId : (await this.find(a.roomId, a.frameId, a.seq))!;
  }

  private async find(roomId: string, frameId: string, seq: number): Promise<string | undefined> {
    const [row] = await this.db.query<{ asset_id: string }>('SELECT asset_id FROM render_assets WHERE room_id = $1 AND frame_id = $2 AND seq = $3', [roomId, frameId, seq]);
    return row?.asset_id;
  }

  async meta(roomId: string, assetId: string): Promise<PinnedAsset | undefined> {
    const [row] = await this.db.query<PinnedAsset>(
      `SELECT asset_id AS "assetId", room_id AS "roomId", frame_id AS "frameId", seq, width, height, seed, model,
              created_at AS "createdAt" FROM render_assets WHERE room_id = $1 AND asset_id = $2`,
      [roomId, assetId],
    );
    return row;
  }

  async jpeg(roomId: string, assetId: string): Promise<Buffer | undefined> {
    const [row] = await this.db.query<{ data: Buffer }>('SELECT data FROM render_assets WHERE room_id = $1 AND asset_id = $2', [roomId, assetId]);
    return row?.data;
  }
}
