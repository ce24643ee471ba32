// HTTP side of access control: `POST /api/rooms` creates a shared room and answers its three
// links (a bounded number per client address), and `POST /api/rooms/<id>/session` exchanges a
// link token (Authorization: Bearer) for the room's HttpOnly, SameSite=Strict cookie, which the
// page's HTTP reads (renders, uploads, pinned assets) then carry. `readRole` is what those reads
// call: the role the request's cookie grants in that very room, or null.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { roomCookieName, ROOMS_PATH, type CreatedRoom } from '../../lib/protocol/access';
import { ROOM_ID_PATTERN } from '../../lib/protocol/limits';
import { sendJson } from '../http/sendJson';
import { clientAddress } from '../http/clientAddress';
import { LocalBuckets, type KeyedLimit } from '../cluster/SharedBuckets';
import type { AccessControl, RoleDecision } from './AccessControl';

export interface AccessRoutesOptions {
  /** rooms one client address may create: a token bucket (ROOMS_PER_HOUR) */
  roomsPerHour: number;
  /** the buckets of that limit, by client address; default: this process's own (cluster mode
   * shares them through Redis: SharedBuckets) */
  creations?: KeyedLimit;
  /** TRUST_PROXY: the client address comes from X-Forwarded-For */
  trustProxy?: boolean;
}

export function accessRoutes(access: AccessControl, opts: AccessRoutesOptions) {
  const creations = opts.creations ?? new LocalBuckets(opts.roomsPerHour / 3600, opts.roomsPerHour);
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const answer = (status: number, body: unknown, headers?: Record<string, string>) => {
      sendJson(res, status, body, headers);
      return true;
    };
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === ROOMS_PATH) {
      if (req.method !== 'POST') return answer(405, { error: 'POST creates a room' }, { allow: 'POST' });
      if (!(await creations.take(clientAddress(req, opts.trustProxy ?? false)))) {
        return answer(429, { error: `this address created ${opts.roomsPerHour} rooms in the last hour (ROOMS_PER_HOUR); try again later` });
      }
      return answer(201, (await access.createRoom()) satisfies CreatedRoom);
    }
    const m = /^\/api\/rooms\/([^/]+)\/session$/.exec(path);
    if (!m) return false;
    const roomId = decodeURIComponent(m[1]!);
    if (!ROOM_ID_PATTERN.test(roomId)) return answer(400, { error: 'malformed room id' });
    if (req.method !== 'POST') return answer(405, { error: 'only POST' }, { allow: 'POST' });
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const decision = await access.roleFor(roomId, token);
    if (!decision.ok) return answer(decision.code === 'no-such-room' ? 404 : 403, { error: decision.message });
    if (!token) return answer(200, { role: decision.role }); // an open room needs no cookie
    const cookie = [
      `${roomCookieName(roomId)}=${token}`,
      'Path=/api/',
      'HttpOnly',
      'SameSite=Strict',
      // over HTTPS (directly or behind a proxy that says so) the cookie never travels in clear
      ...(isHttps(req) ? ['Secure'] : []),
    ].join('; ');
    res.writeHead(204, { 'set-cookie': cookie, 'cache-control': 'no-store' }).end();
    return true;
  };
}

/** The role a request's room cookie grants in `roomId` (open rooms: editor for anyone). */
export async function readRole(access: AccessControl, req: IncomingMessage, roomId: string): Promise<RoleDecision> {
  return access.roleFor(roomId, cookieValue(req.headers.cookie, roomCookieName(roomId)));
}

/** May this request read a room's data (renders, uploads, pinned assets)? Any role may; without
 * one the request is answered 401 (no cookie) or 403/404 here and the caller stops. */
export type ReadAuthorizer = (req: IncomingMessage, res: ServerResponse, roomId: string) => Promise<boolean>;

export function readAuthorizer(access: AccessControl): ReadAuthorizer {
  return async (req, res, roomId) => {
    if (!ROOM_ID_PATTERN.test(roomId)) {
      sendJson(res, 404, { error: 'no such room' });
      return false;
    }
    const decision = await readRole(access, req, roomId);
    if (decision.ok) return true;
    const hasCookie = cookieValue(req.headers.cookie, roomCookieName(roomId)) !== undefined;
    sendJson(res, decision.code === 'no-such-room' ? 404 : hasCookie ? 403 : 401, { error: decision.message });
    return false;
  };
}

const isHttps = (req: IncomingMessage) =>
  (req.socket as { encrypted?: boolean }).encrypted === true || req.headers['x-forwarded-proto'] === 'https';

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}
