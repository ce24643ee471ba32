'use client';
// Opens the room: one Socket.IO connection to this page's origin, one Y.Doc, one provider. They
// live as long as the room page; the doc survives disconnects, so nothing drawn offline is lost.
// The room link's token (lib/canvas/roomToken.ts) goes into the handshake `auth`; after the first
// join it is exchanged for the room's HttpOnly cookie, before the editor shows (pinned images and
// uploads are read over HTTP with it).
import { useCallback, useEffect, useRef, useState } from 'react';
import { io, type Socket } from 'socket.io-client';
import * as Y from 'yjs';
import { tokenFromHash } from '../../lib/protocol/access';
import { EV, ServerStatus, type ErrorEvent, type UserInfo } from '../../lib/protocol/events';
import type { AwarenessUser } from '../../lib/canvas/presence';
import {
  deleteRoom as requestDeleteRoom,
  openRoomSession,
  type AccessDenial,
  type AccessGrant,
} from '../../lib/canvas/roomAccess';
import { forgetRoomToken, takeRoomToken } from '../../lib/canvas/roomToken';
import { SocketIoProvider, type ConnectionStatus } from '../../lib/canvas/socketProvider';

/** Why the page shows no canvas: the server refused or revoked its access, or its owner deleted it here. */
export type RoomDenial = AccessDenial | { kind: 'deleted'; code: 'deleted'; message: string };

export type DeleteResult = { ok: true } | { ok: false; message: string };

export interface RoomConnection {
  socket: Socket;
  doc: Y.Doc;
  provider: SocketIoProvider;
  status: ConnectionStatus;
  /** first sync with the server done (and the HTTP session opened): the document is the room's,
   * not an empty local one */
  synced: boolean;
  /** the role the server granted on join (null before the first join) */
  access: AccessGrant | null;
  /** set once the server refused or revoked this page's access: nothing more is tried */
  denial: RoomDenial | null;
  /** cluster mode: set while the server says changes do not reach people on its other nodes yet
   * (its link to them is down; edits are still saved) */
  syncDegraded: string | null;
  /** the last problem worth showing (failed join, a refused change, a failed upload); cleared
   * once connected again or dismissed */
  error: string | null;
  /** show a problem found on this page (e.g. a failed upload) where `error` is shown */
  reportError: (message: string) => void;
  dismissError: () => void;
  /** owner only: delete the room for everyone (the page then says it was deleted) */
  deleteRoom: () => Promise<DeleteResult>;
}

/** What others see of me: a name a single-sign-on token fixes wins, and a viewer says so. */
export function awarenessUser(user: UserInfo, access: AccessGrant | null): AwarenessUser {
  return {
    name: access?.name ?? user.name,
    color: user.color,
    ...(access?.role === 'viewer' ? { role: 'viewer' as const } : {}),
  };
}

export const OFFLINE_MESSAGE = 'Offline: your edits are kept and sent when the connection is back.';

const DELETED: RoomDenial = { kind: 'deleted', code: 'deleted', message: 'You deleted this room.' };

export function useRoomConnection(roomId: string, user: UserInfo | null): RoomConnection | null {
  const [conn, setConn] = useState<Pick<RoomConnection, 'socket' | 'doc' | 'provider'> | null>(null);
  const [status, setStatus] = useState<ConnectionStatus>('connecting');
  const [synced, setSynced] = useState(false);
  const [sessionReady, setSessionReady] = useState(false);
  const [access, setAccess] = useState<AccessGrant | null>(null);
  const [denial, setDenial] = useState<RoomDenial | null>(null);
  const [syncDegraded, setSyncDegraded] = useState<string | null>(null);
  // Connection problems go away by themselves once connected; others stay until dismissed.
  const [problem, setProblem] = useState<{ message: string; connection: boolean } | null>(null);
  const ready = user !== null;
  const userRef = useRef(user);
  userRef.current = user;
  /** set while this page deletes the room: the revocation that follows is our own doing */
  const deleting = useRef(false);

  useEffect(() => {
    if (!ready) return;
    let cancelled = false;
    const token = takeRoomToken(roomId);
    // WebSocket first (no long-polling phase, one round trip less on every reconnect); polling
    // only where a proxy refuses WebSockets. The token only ever travels in the handshake body.
    const socket = io({
      autoConnect: false,
      transports: ['websocket', 'polling'],
      tryAllTransports: true,
      auth: token ? { token } : {},
    });
    const doc = new Y.Doc();
    const provider = new SocketIoProvider(socket, roomId, doc, { user: user ?? undefined });
    const deny = (d: RoomDenial) => {
      setDenial(deleting.current ? DELETED : d);
      if (d.code === 'forbidden' || d.kind === 'revoked') forgetRoomToken(roomId);
      socket.disconnect();
    };
    let sessionStarted = false;
    const unsubs = [
      provider.onStatus((s) => {
        setStatus(s);
        if (s === 'connected') setProblem((p) => (p?.connection ? null : p));
      }),
      // A live frame's errors are shown on the frame itself (a failed pin in its HUD, in words).
      provider.onError(
        (e: ErrorEvent) =>
          !e.frameId && e.event !== EV.pin && setProblem({ message: e.message, connection: e.event === EV.roomJoin }),
      ),
      provider.access.onGrant((grant) => {
        setAccess(grant);
        // before our presence is announced on this join: others see the role and fixed name at once
        if (userRef.current) provider.setUser(awarenessUser(userRef.current, grant));
        if (sessionStarted) return;
        sessionStarted = true;
        if (!token) return setSessionReady(true); // an open room: no cookie needed
        void openRoomSession(roomId, token).then((trouble) => {
          if (cancelled) return;
          if (trouble) setProblem({ message: `Images of this room may not load: ${trouble}`, connection: false });
          setSessionReady(true);
        });
      }),
      provider.access.onDenied(deny),
    ];
    const onConnectError = (e: Error & { data?: { code?: unknown } }) => {
      // refused by the server's handshake check: socket.io-client will not retry by itself
      if (!socket.active) {
        const code = typeof e.data?.code === 'string' ? e.data.code : 'forbidden';
        return deny({ kind: 'refused', code, message: e.message });
      }
      // in words, not the transport's ("xhr poll error"): that detail is only for the console
      console.info(`[livecanvas] cannot reach the server (${e.message}); retrying`);
      setProblem({ message: OFFLINE_MESSAGE, connection: true });
    };
    socket.on('connect_error', onConnectError);
    const onServerStatus = (raw: unknown) => {
      const s = ServerStatus.safeParse(raw);
      if (s.success) setSyncDegraded(s.data.sync === 'degraded' ? s.data.message : null);
    };
    socket.on(EV.serverStatus, onServerStatus);
    // a new connection may reach another node, whose link is fine: it says so when it is not
    socket.on('connect', () => setSyncDegraded(null));
    // Edits the server has not confirmed (offline, or too large to share) would be lost.
    const onBeforeUnload = (e: BeforeUnloadEvent) => {
      if (!provider.hasUnsentChanges()) return;
      e.preventDefault();
      e.returnValue = ''; // older browsers need it set to show the prompt
    };
    window.addEventListener('beforeunload', onBeforeUnload);
    provider.whenSynced().then(() => !cancelled && setSynced(true));
    setConn({ socket, doc, provider });
    socket.connect();
    return () => {
      cancelled = true;
      for (const u of unsubs) u();
      socket.off('connect_error', onConnectError);
      socket.off(EV.serverStatus, onServerStatus);
      window.removeEventListener('beforeunload', onBeforeUnload);
      provider.destroy();
      socket.disconnect();
      doc.destroy();
      setConn(null);
      setSynced(false);
      setSessionReady(false);
      setAccess(null);
      setDenial(null);
    };
    // The user is read once at connect time; later edits go through provider.setUser.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [roomId, ready]);

  useEffect(() => {
    if (conn && user) conn.provider.setUser(awarenessUser(user, access));
  }, [conn, user?.name, user?.color, access]);

  // A link pasted into this tab's address bar differs only in its fragment: the browser does not
  // load the page again. Its token is a new grant: keep it, and open the room afresh with it.
  useEffect(() => {
    const onHashChange = () => {
      if (!tokenFromHash(window.location.hash)) return;
      takeRoomToken(roomId);
      window.location.reload();
    };
    window.addEventListener('hashchange', onHashChange);
    return () => window.removeEventListener('hashchange', onHashChange);
  }, [roomId]);

  const reportError = useCallback((message: string) => setProblem({ message, connection: false }), []);
  const dismissError = useCallback(() => setProblem(null), []);
  const deleteRoom = useCallback(async (): Promise<DeleteResult> => {
    if (!conn) return { ok: false, message: 'not connected to the room' };
    deleting.current = true;
    const result = await requestDeleteRoom(conn.socket, roomId);
    if (!result.ok) {
      deleting.current = false;
      return result;
    }
    forgetRoomToken(roomId);
    setDenial(DELETED);
    conn.socket.disconnect();
    return result;
  }, [conn, roomId]);
  const error = problem?.message ?? null;
  return conn
    ? { ...conn, status, synced: synced && sessionReady, access, denial, syncDegraded, error, reportError, dismissError, deleteRoom }
    : null;
}
