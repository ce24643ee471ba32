// Who may do what in a room. The server decides a socket's role once, when it joins (from the
// link's signed token or the room's being open), and enforces it on every message; the browser
// only uses these facts to show a read-only editor and hide what a role cannot do.
import { z } from 'zod';

export const Role = z.enum(['owner', 'editor', 'viewer']);
export type Role = z.infer<typeof Role>;

/** Each role can do everything the ones after it can. */
const RANK: Record<Role, number> = { owner: 3, editor: 2, viewer: 1 };

/** Whether `role` may do what `needed` may. */
export const roleAtLeast = (role: Role, needed: Role): boolean => RANK[role] >= RANK[needed];

/** The roles a link can be rotated for (the owner link is the creator's own). */
export const SharedRole = z.enum(['editor', 'viewer']);
export type SharedRole = z.infer<typeof SharedRole>;

/** The claims of a room token we sign ourselves (HS256); `v` is the role's link version, so a
 * rotated link stops working. Tokens minted by another service (AUTH_JWT_PUBLIC_KEY) carry a
 * `name` instead of `v`. */
export const RoomTokenClaims = z.object({
  room: z.string(),
  role: Role,
  v: z.number().int().nonnegative().optional(),
  name: z.string().trim().min(1).max(40).optional(),
});
export type RoomTokenClaims = z.infer<typeof RoomTokenClaims>;

/** The token travels in the URL fragment (`/r/<roomId>#k=<token>`): never in a request line, a
 * Referer or a server log. */
export const LINK_TOKEN_PARAM = 'k';

export function roomLink(roomId: string, token: string): string {
  return `/r/${encodeURIComponent(roomId)}#${LINK_TOKEN_PARAM}=${token}`;
}

/** The token in a room URL's fragment, if any. */
export function tokenFromHash(hash: string): string | null {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const t = params.get(LINK_TOKEN_PARAM);
  return t && t.length < 4096 ? t : null;
}

/** The HttpOnly cookie that carries a room's token for HTTP reads (renders, uploads), scoped to
 * the room: one cookie per room. */
export const roomCookieName = (roomId: string) => `lc_room_${roomId}`;

/** `POST /api/rooms` answers this: the room and its three links. */
export const CreatedRoom = z.object({
  roomId: z.string(),
  links: z.object({ owner: z.string(), editor: z.string(), viewer: z.string() }),
});
export type CreatedRoom = z.infer<typeof CreatedRoom>;

// ───────────── socket events of access control ─────────────

/** Handshake `auth` of the page's Socket.IO connection: the link token of the room it opens. */
export const HandshakeAuth = z.object({ token: z.string().max(4096).optional() });

/** `room:join` ack: the role the server granted (and a name a single-sign-on token fixes). */
export const RoomJoinAck = z.union([
  z.object({ ok: z.literal(true), role: Role, name: z.string().optional(), open: z.boolean() }),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);
export type RoomJoinAck = z.infer<typeof RoomJoinAck>;

/** Owner only: the room's three links (`room:links`, ack `RoomLinksAck`). */
export const RoomLinksRequest = z.object({ roomId: z.string() });
/** Owner only: replace the edit or view link (`room:rotate-link`); sockets holding the old one are
 * disconnected within a second with `room:revoked`. Ack: `RoomLinksAck` with the new links. */
export const RotateLinkRequest = z.object({ roomId: z.string(), role: SharedRole });
export const RoomLinksAck = z.union([
  z.object({ ok: z.literal(true), links: CreatedRoom.shape.links }),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);
/** Owner only: delete the room (`room:delete`): everyone is disconnected with `room:revoked`. */
export const DeleteRoomRequest = z.object({ roomId: z.string() });

/** Server → client before it disconnects a socket whose link was rotated or whose room was deleted. */
export const RoomRevoked = z.object({ roomId: z.string(), reason: z.string() });
export type RoomRevoked = z.infer<typeof RoomRevoked>;

/** Socket events of access control, in one place. */
export const ACCESS_EV = {
  links: 'room:links',
  rotateLink: 'room:rotate-link',
  deleteRoom: 'room:delete',
  revoked: 'room:revoked',
} as const;

/** `POST /api/rooms/<roomId>/session` with `Authorization: Bearer <token>` answers 204 and sets
 * the room's HttpOnly, SameSite=Strict cookie, so the page's HTTP reads (renders, uploads) carry
 * the token without putting it in a URL. */
export const roomSessionPath = (roomId: string) => `/api/rooms/${encodeURIComponent(roomId)}/session`;
export const ROOMS_PATH = '/api/rooms';
