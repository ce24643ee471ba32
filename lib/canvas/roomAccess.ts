// Access control as the browser sees it (the server decides and enforces; lib/protocol/access.ts):
// what a `room:join` ack grants or refuses, the owner's link requests over the room's socket, and
// the session call that turns the link token into the room's HttpOnly cookie for HTTP reads.
import type { Socket } from 'socket.io-client';
import {
  ACCESS_EV,
  CreatedRoom,
  ROOMS_PATH,
  RoomJoinAck,
  RoomLinksAck,
  roomSessionPath,
  type Role,
  type SharedRole,
} from '../protocol/access';

/** What the server granted on join. */
export interface AccessGrant {
  role: Role;
  /** a room from before access control: anyone with its address is an editor */
  open: boolean;
  /** a name fixed by a single-sign-on token: shown to others, not changeable here */
  name?: string;
}

/** Why this page may not be in the room (any more). `refused`: the join was refused;
 * `revoked`: the server sent `room:revoked` (link replaced, room deleted). */
export interface AccessDenial {
  kind: 'refused' | 'revoked';
  /** the server's code: 'forbidden', 'no-such-room', … ('revoked' for `room:revoked`) */
  code: string;
  message: string;
}

export type RoomLinks = CreatedRoom['links'];

/** Join refusals no retry can change: the page stops and says so. */
const FINAL_JOIN_REFUSALS: ReadonlySet<string> = new Set(['forbidden', 'no-such-room', 'unauthorized']);

export type JoinResult = { ok: true; grant: AccessGrant } | { ok: false; denial: AccessDenial; final: boolean };

/**
 * Reads a `room:join` ack. A server without access control answers a bare `{ok:true}`: everyone
 * is an editor of an open room then.
 */
export function readJoinAck(ack: unknown): JoinResult {
  const parsed = RoomJoinAck.safeParse(ack);
  if (parsed.success) {
    const a = parsed.data;
    if (a.ok) return { ok: true, grant: { role: a.role, open: a.open, ...(a.name ? { name: a.name } : {}) } };
    return { ok: false, denial: { kind: 'refused', ...a.error }, final: FINAL_JOIN_REFUSALS.has(a.error.code) };
  }
  if ((ack as { ok?: unknown } | null)?.ok === true) return { ok: true, grant: { role: 'editor', open: true } };
  const error = (ack as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof error?.code === 'string' ? error.code : 'invalid-room';
  const message = typeof error?.message === 'string' ? error.message : 'the server refused to join the room';
  return { ok: false, denial: { kind: 'refused', code, message }, final: FINAL_JOIN_REFUSALS.has(code) };
}

/** Whether a role may change the room (draw, edit frames, send snapshots, pin, upload). */
export const canWrite = (role: Role | null | undefined): boolean => role === 'owner' || role === 'editor';

// ───────────── owner actions over the room's socket ─────────────

const ACCESS_ACK_TIMEOUT_MS = 10_000;

export type LinksResult = { ok: true; links: RoomLinks } | { ok: false; message: string };

async function ask(socket: Socket, event: string, payload: unknown): Promise<unknown> {
  if (!socket.connected) throw new Error('not connected to the server; try again once the room is connected');
  try {
    return await socket.timeout(ACCESS_ACK_TIMEOUT_MS).emitWithAck(event, payload);
  } catch {
    throw new Error('the server did not answer; check the connection and try again');
  }
}

function readLinks(raw: unknown): LinksResult {
  const ack = RoomLinksAck.safeParse(raw);
  if (!ack.success) return { ok: false, message: 'the server sent an answer this page cannot read' };
  return ack.data.ok ? { ok: true, links: ack.data.links } : { ok: false, message: ack.data.error.message };
}

const failure = (e: unknown): { ok: false; message: string } => ({ ok: false, message: (e as Error).message });

/** Owner only: the room's current owner, edit and view links (paths with `#k=`). */
export async function fetchRoomLinks(socket: Socket, roomId: string): Promise<LinksResult> {
  try {
    return readLinks(await ask(socket, ACCESS_EV.links, { roomId }));
  } catch (e) {
    return failure(e);
  }
}

/** Owner only: replace the edit or view link; whoever holds the old one loses access at once. */
export async function rotateRoomLink(socket: Socket, roomId: string, role: SharedRole): Promise<LinksResult> {
  try {
    return readLinks(await ask(socket, ACCESS_EV.rotateLink, { roomId, role }));
  } catch (e) {
    return failure(e);
  }
}

/** Owner only: delete the room; everyone in it is disconnected. */
export async function deleteRoom(socket: Socket, roomId: string): Promise<{ ok: true } | { ok: false; message: string }> {
  try {
    const ack = (await ask(socket, ACCESS_EV.deleteRoom, { roomId })) as { ok?: unknown; error?: { message?: unknown } } | null;
    if (ack?.ok === true) return { ok: true };
    const message = typeof ack?.error?.message === 'string' ? ack.error.message : 'the server refused to delete the room';
    return { ok: false, message };
  } catch (e) {
    return failure(e);
  }
}

// ───────────── HTTP: a new room, the session ─────────────

/** Asks the server for a new room; returns it or says, in words for a person, why not. */
export async function createRoom(doFetch: typeof fetch = fetch): Promise<{ ok: true; room: CreatedRoom } | { ok: false; message: string }> {
  let res: Response;
  try {
    res = await doFetch(ROOMS_PATH, { method: 'POST', credentials: 'same-origin', cache: 'no-store' });
  } catch {
    return { ok: false, message: 'Could not reach the server. Check your connection and try again.' };
  }
  const body: unknown = await res.json().catch(() => null);
  if (res.status === 429) {
    return { ok: false, message: 'Too many rooms were created from your network in the last hour. Try again later, or open an existing room.' };
  }
  const room = CreatedRoom.safeParse(body);
  if (!res.ok || !room.success) {
    const reason = (body as { error?: unknown } | null)?.error;
    const why = typeof reason === 'string' ? reason.replace(/\.$/, '') : `the server answered ${res.status}`;
    return { ok: false, message: `Could not create a room: ${why}.` };
  }
  return { ok: true, room: room.data };
}


const SESSION_TIMEOUT_MS = 10_000;

/**
 * Exchanges the link token for the room's HttpOnly cookie (`POST /api/rooms/<id>/session`,
 * `Authorization: Bearer`), so the page's HTTP reads of renders, uploads and pinned images carry
 * it; the token never goes into a URL. Returns null when done, else what went wrong.
 */
export async function openRoomSession(roomId: string, token: string, doFetch: typeof fetch = fetch): Promise<string | null> {
  try {
    const res = await doFetch(roomSessionPath(roomId), {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { authorization: `Bearer ${token}` },
      // the editor waits for this; a server that never answers must not keep the room closed
      signal: AbortSignal.timeout(SESSION_TIMEOUT_MS),
    });
    if (res.ok) return null;
    const body = (await res.json().catch(() => null)) as { error?: unknown } | null;
    return typeof body?.error === 'string' ? body.error : `the server answered ${res.status}`;
  } catch (e) {
    return (e as Error).message || 'network error';
  }
}

// ───────────── the provider's side ─────────────

type Listener<T> = (value: T) => void;

/** What the socket provider knows about its access: the grant of the last join and, once the
 * server said so for good, the denial. Listeners are called at once with what is known. */
export class RoomAccessState {
  private current: AccessGrant | null = null;
  private refusal: AccessDenial | null = null;
  private readonly grantListeners = new Set<Listener<AccessGrant>>();
  private readonly deniedListeners = new Set<Listener<AccessDenial>>();

  /** role, open room, fixed name granted on the last join; null before the first */
  get grant(): AccessGrant | null {
    return this.current;
  }

  get role(): Role | null {
    return this.current?.role ?? null;
  }

  /** false only once a join granted a role that changes nothing (viewer) */
  get mayWrite(): boolean {
    return !this.current || canWrite(this.current.role);
  }

  get denied(): AccessDenial | null {
    return this.refusal;
  }

  granted(grant: AccessGrant): void {
    this.current = grant;
    for (const l of this.grantListeners) l(grant);
  }

  /** Returns false when denied already (the first reason stays). */
  deny(denial: AccessDenial): boolean {
    if (this.refusal) return false;
    this.refusal = denial;
    for (const l of this.deniedListeners) l(denial);
    return true;
  }

  onGrant(listener: Listener<AccessGrant>): () => void {
    this.grantListeners.add(listener);
    if (this.current) listener(this.current);
    return () => this.grantListeners.delete(listener);
  }

  onDenied(listener: Listener<AccessDenial>): () => void {
    this.deniedListeners.add(listener);
    if (this.refusal) listener(this.refusal);
    return () => this.deniedListeners.delete(listener);
  }

  clearListeners(): void {
    this.grantListeners.clear();
    this.deniedListeners.clear();
  }
}
