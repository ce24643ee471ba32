// Which rooms exist as shared rooms, and the link version of each role. A room created through
// POST /api/rooms (or claimed with `npm run rooms -- claim`) has a row here; its links carry the
// version of their role, so rotating a link (bumping the version) stops the old one. A room with
// a document but no row is an "open" room from before access control: anyone with its id is an
// editor, unless OPEN_ROOMS=0. Lives in the room database (RoomStore.sql), table `room_access`.
import type { Role } from '../../lib/protocol/access';
import type { SqlDatabase } from '../store/sql/SqlDatabase';

export interface RoomAccessRow {
  roomId: string;
  /** link version per role */
  versions: Record<Role, number>;
  createdAt: number;
}

interface RoomAccessRecord {
  room_id: string;
  owner_v: number;
  editor_v: number;
  viewer_v: number;
  created_at: number;
}

export class RoomAccess {
  private constructor(private readonly db: SqlDatabase) {}

  /** The table, created if it is not there yet. */
  static async open(db: SqlDatabase): Promise<RoomAccess> {
    await db.exec(`
      CREATE TABLE IF NOT EXISTS room_access (
        room_id TEXT PRIMARY KEY,
        owner_v INTEGER NOT NULL DEFAULT 1,
        editor_v INTEGER NOT NULL DEFAULT 1,
        viewer_v INTEGER NOT NULL DEFAULT 1,
        created_at ${db.types.bigint} NOT NULL
      );
    `);
    return new RoomAccess(db);
  }

  /** Registers a shared room; false when it is registered already. */
  async create(roomId: string): Promise<boolean> {
    return (await this.db.run('INSERT INTO room_access (room_id, created_at) VALUES ($1, $2) ON CONFLICT (room_id) DO NOTHING', [roomId, Date.now()])) === 1;
  }

  async get(roomId: string): Promise<RoomAccessRow | undefined> {
    const [r] = await this.db.query<RoomAccessRecord>('SELECT room_id, owner_v, editor_v, viewer_v, created_at FROM room_access WHERE room_id = $1', [roomId]);
    return r && { roomId: r.room_id, versions: { owner: r.owner_v, editor: r.editor_v, viewer: r.viewer_v }, createdAt: r.created_at };
  }

  /** A new link for a shared role: the old one stops working. Returns the new version. */
  async rotate(roomId: string, role: 'editor' | 'viewer'): Promise<number> {
    // one statement bumps and reads back, so two rotations at once get two versions
    const column = role === 'editor' ? 'editor_v' : 'viewer_v';
    const [r] = await this.db.query<{ v: number }>(`UPDATE room_access SET ${column} = ${column} + 1 WHERE room_id = $1 RETURNING ${column} AS v`, [roomId]);
    if (!r) throw new Error(`room ${roomId} is not a shared room`);
    return r.v;
  }

  async remove(roomId: string): Promise<void> {
    await this.db.run('DELETE FROM room_access WHERE room_id = $1', [roomId]);
  }
}
