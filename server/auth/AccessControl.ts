// The one place that decides a role: `roleFor(roomId, token)` is called when a socket joins a room
// and when an HTTP read presents a room cookie (the Hocuspocus `onAuthenticate` shape). It also
// creates shared rooms with their three links and rotates a role's link, telling listeners so
// sockets holding the old link can be disconnected.
import { newRoomId } from '../../lib/canvas/roomId';
import { roomLink, type CreatedRoom, type Role, type SharedRole } from '../../lib/protocol/access';
import type { RoomAccess } from './RoomAccess';
import type { RoomTokens } from './RoomTokens';

export type RoleDecision =
  | {
      ok: true;
      role: Role;
      /** the link version the role was granted at (absent for open rooms and minted tokens) */
      version?: number;
      /** a name the token fixes (single sign-on): shown to others, not changeable by the client */
      name?: string;
      /** a room from before access control: anyone with its id is an editor */
      open: boolean;
    }
  | { ok: false; code: 'forbidden' | 'no-such-room'; message: string };

export interface AccessControlOptions {
  /** OPEN_ROOMS: rooms that exist but were never claimed are open to anyone with the id (default
   * true); false refuses every unclaimed room */
  openRooms: boolean;
  /** does the room have a stored document? (a room from before access control) */
  hasDocument: (roomId: string) => boolean | Promise<boolean>;
}

type RevokedListener = (roomId: string, role: SharedRole, version: number) => void;

export class AccessControl {
  private readonly revokedListeners = new Set<RevokedListener>();

  constructor(
    readonly tokens: RoomTokens,
    readonly access: RoomAccess,
    private readonly opts: AccessControlOptions,
  ) {}

  /** A new shared room: its creator gets the owner link. */
  async createRoom(): Promise<CreatedRoom> {
    let roomId: string;
    // never take over an open room (or a shared one) whose id happens to come up
    do roomId = newRoomId();
    while ((await this.opts.hasDocument(roomId)) || !(await this.access.create(roomId)));
    return { roomId, links: await this.links(roomId) };
  }

  /** Registers an existing open room as shared (operator CLI); false when it is shared already. */
  claim(roomId: string): Promise<boolean> {
    return this.access.create(roomId);
  }

  /** The three links of a shared room at their current versions. */
  async links(roomId: string): Promise<CreatedRoom['links']> {
    const row = await this.access.get(roomId);
    if (!row) throw new Error(`room ${roomId} is not a shared room`);
    const link = async (role: Role) => roomLink(roomId, await this.tokens.sign({ room: roomId, role, v: row.versions[role] }));
    return { owner: await link('owner'), editor: await link('editor'), viewer: await link('viewer') };
  }

  async roleFor(roomId: string, token: string | undefined): Promise<RoleDecision> {
    const row = await this.access.get(roomId);
    if (!row) {
      if (!(await this.opts.hasDocument(roomId))) return { ok: false, code: 'no-such-room', message: `room ${roomId} does not exist; create a room to get its links` };
      if (!this.opts.openRooms) return { ok: false, code: 'forbidden', message: `room ${roomId} has no owner yet and this server admits only shared rooms (OPEN_ROOMS=0)` };
      return { ok: true, role: 'editor', open: true };
    }
    if (!token) return { ok: false, code: 'forbidden', message: `room ${roomId} needs its link: open the link you were given (it ends in #k=…)` };
    const check = await this.tokens.verify(token);
    if (!check.ok) return { ok: false, code: 'forbidden', message: `${check.reason}; ask for a new link` };
    const { claims } = check;
    if (claims.room !== roomId) return { ok: false, code: 'forbidden', message: 'this link is for another room' };
    if (check.external) return { ok: true, role: claims.role, open: false, ...(claims.name && { name: claims.name }) };
    if (claims.v !== row.versions[claims.role]) return { ok: false, code: 'forbidden', message: `this ${claims.role} link was replaced by the owner; ask for the new one` };
    return { ok: true, role: claims.role, version: claims.v, open: false };
  }

  /** A new link for a role; the old one stops working and its sockets are told to go. */
  async rotate(roomId: string, role: SharedRole): Promise<string> {
    const version = await this.access.rotate(roomId, role);
    for (const l of this.revokedListeners) l(roomId, role, version);
    return (await this.links(roomId))[role];
  }

  onRevoked(fn: RevokedListener): () => void {
    this.revokedListeners.add(fn);
    return () => this.revokedListeners.delete(fn);
  }
}
