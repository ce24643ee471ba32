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
