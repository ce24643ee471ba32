// HTTP reads of a shared room (its renders, pinned assets and uploads) need the room's cookie: the
// page gets it from POST /api/rooms/<id>/session with its link token; a test sends the same cookie
// directly, from a room made by createRoom (test/helpers/yclient.ts) or from a room link.
import { roomCookieName, tokenFromHash, type Role } from '../../lib/protocol/access';
import { roomToken } from './yclient';

/** The request headers that carry a createRoom room's link token as that room's cookie. */
export function roomCookie(roomId: string, role: Role = 'editor'): { cookie: string } {
  return { cookie: `${roomCookieName(roomId)}=${roomToken(roomId, role)}` };
}

/** The same from a room link (`/r/<roomId>#k=<token>`, as POST /api/rooms answers it). */
export function linkCookie(link: string): { cookie: string } {
  const url = new URL(link, 'http://link');
  const roomId = decodeURIComponent(url.pathname.split('/').pop()!);
  const token = tokenFromHash(url.hash);
  if (!token) throw new Error(`no token in the link ${link}`);
  return { cookie: `${roomCookieName(roomId)}=${token}` };
}

/** fetch() with the room's cookie (createRoom's `role` link) added to `init`'s headers. */
export function roomFetch(url: string, roomId: string, init: RequestInit = {}, role: Role = 'editor'): Promise<Response> {
  return fetchWithCookie(url, roomCookie(roomId, role), init);
}

/** fetch() with the cookie of a room link added to `init`'s headers. */
export function linkFetch(url: string, link: string, init: RequestInit = {}): Promise<Response> {
  return fetchWithCookie(url, linkCookie(link), init);
}

function fetchWithCookie(url: string, { cookie }: { cookie: string }, init: RequestInit): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('cookie', cookie);
  return fetch(url, { ...init, headers });
}
