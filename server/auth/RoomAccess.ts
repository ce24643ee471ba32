// Which rooms exist as shared rooms, and the link version of each role. A room created through
// POST /api/rooms (or claimed with `npm run rooms -- claim`) has a row here; its links carry the
// version of their role, so rotating a link (bumping the version) stops the old one. A room with
// a document but no row is an "open" room from before access control: anyone with its id is an
// editor, unless OPEN_ROOMS=0. Lives in the room database (RoomStore.db), table `room_access`.
import type Database from 'better-sqlite3';
import type { Role } from '../../lib/protocol/access';

export interface RoomAccessRow {
  roomId: string;
  /** link version per role */
  versions: Record<Role, number>;
  createdAt: number;
}

export class RoomAccess {
  private readonly stmts;

  constructor(db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS room_access (
        room_id TEXT PRIMARY KEY,
        owner_v INTEGER NOT NULL DEFAULT 1,
        editor_v INTEGER NOT NULL DEFAULT 1,
        viewer_v INTEGER NOT NULL DEFAULT 1,
        created_at INTEGER NOT NULL
      );
    `);
    this.stmts = {
      insert: db.prepare<[string, number]>('INSERT INTO room_access (room_id, created_at) VALUES (?, ?) ON CONFLICT (room_id) DO NOTHING'),
      get: db.prepare<[string], { room_id: string; owner_v: number; editor_v: number; viewer_v: number; created_at: number }>(
        'SELECT * FROM room_access WHERE room_id = ?',
      ),
      bumpEditor: db.prepare<[string]>('UPDATE room_access SET editor_v = editor_v + 1 WHERE room_id = ?'),
      bumpViewer: db.prepare<[string]>('UPDATE room_access SET viewer_v = viewer_v + 1 WHERE room_id = ?'),
      remove: db.prepare<[string]>('DELETE FROM room_access WHERE room_id = ?'),
    };
  }

  /** Registers a shared room; false when it is registered already. */
  create(roomId: string): boolean {
    return this.stmts.insert.run(roomId, Date.now()).changes === 1;
  }

  get(roomId: string): RoomAccessRow | undefined {
    const r = this.stmts.get.get(roomId);
    return r && { roomId: r.room_id, versions: { owner: r.owner_v, editor: r.editor_v, viewer: r.viewer_v }, createdAt: r.created_at };
  }

  /** A new link for a shared role: the old one stops working. Returns the new version. */
  rotate(roomId: string, role: 'editor' | 'viewer'): number {
    (role === 'editor' ? this.stmts.bumpEditor : this.stmts.bumpViewer).run(roomId);
    return this.get(roomId)!.versions[role];
  }

  remove(roomId: string): void {
    this.stmts.remove.run(roomId);
  }
}
