'use client';
// Opens the room: one Socket.IO connection to this page's origin, one Y.Doc, one provider. They
// live as long as the room page; the doc survives disconnects, so nothing drawn offline is lost.
import { useCallback, useEffect, useState } from 'react';
import { io, type Socket } from 'socket.io-client';
import * as Y from 'yjs';
import { EV, type ErrorEvent, type UserInfo } from '../../lib/protocol/events';
import { SocketIoProvider, type ConnectionStatus } from '../../lib/canvas/socketProvider';

export interface RoomConnection {
  socket: Socket;
  doc: Y.Doc;
  provider: SocketIoProvider;
  status: ConnectionStatus;
  /** first sync with the server done: the document is the room's, not an empty local one */
  synced: boolean;
  /** the last problem worth showing (failed join, a refused change, a failed upload); cleared
   * once connected again or dismissed */
  error: string | null;
  /** show a problem found on this page (e.g. a failed upload) where `error` is shown */
  reportError: (message: string) => void;
  dismissError: () => void;
}

export function useRoomConnection(roomId: string, user: UserInfo | null): RoomConnection | null {
  const [conn, setConn] = useState<Pick<RoomConnection, 'socket' | 'doc' | 'provider'> | null>(null);
  const [status, setStatus] = useState<ConnectionStatus>('connecting');
  const [synced, setSynced] = useState(false);
  // Connection problems go away by themselves once connected; others stay until dismissed.
  const [problem, setProblem] = useState<{ message: string; connection: boolean } | null>(null);
  const ready = user !== null;

  useEffect(() => {
    if (!ready) return;
    // WebSocket first (no long-polling phase, one round trip less on every reconnect); polling
    // only where a proxy refuses WebSockets.
    const socket = io({ autoConnect: false, transports: ['websocket', 'polling'], tryAllTransports: true });
    const doc = new Y.Doc();
    const provider = new SocketIoProvider(socket, roomId, doc, { user: user ?? undefined });
    const unsubs = [
      provider.onStatus((s) => {
        setStatus(s);
        if (s === 'connected') setProblem((p) => (p?.connection ? null : p));
      }),
      // A live frame's errors are shown on the frame itself.
      provider.onError(
        (e: ErrorEvent) => !e.frameId && setProblem({ message: e.message, connection: e.event === EV.roomJoin }),
      ),
    ];
    const onConnectError = (e: Error) =>
      setProblem({ message: `Cannot reach the server (${e.message}); retrying…`, connection: true });
    socket.on('connect_error', onConnectError);
    // Edits the server has not confirmed (offline, or too large to share) would be lost.
    const onBeforeUnload = (e: BeforeUnloadEvent) => {
      if (!provider.hasUnsentChanges()) return;
      e.preventDefault();
      e.returnValue = ''; // older browsers need it set to show the prompt
    };
    window.addEventListener('beforeunload', onBeforeUnload);
    provider.whenSynced().then(() => setSynced(true));
    setConn({ socket, doc, provider });
    socket.connect();
    return () => {
      for (const u of unsubs) u();
      socket.off('connect_error', onConnectError);
      window.removeEventListener('beforeunload', onBeforeUnload);
      provider.destroy();
      socket.disconnect();
      doc.destroy();
      setConn(null);
      setSynced(false);
    };
    // The user is read once at connect time; later edits go through provider.setUser.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [roomId, ready]);

  useEffect(() => {
    if (conn && user) conn.provider.setUser({ name: user.name, color: user.color });
  }, [conn, user?.name, user?.color]);

  const reportError = useCallback((message: string) => setProblem({ message, connection: false }), []);
  const dismissError = useCallback(() => setProblem(null), []);
  const error = problem?.message ?? null;
  return conn ? { ...conn, status, synced, error, reportError, dismissError } : null;
}
