'use client';
// Opens the room: one Socket.IO connection to this page's origin, one Y.Doc, one provider. They
// live as long as the room page; the doc survives disconnects, so nothing drawn offline is lost.
import { useEffect, useState } from 'react';
import { io, type Socket } from 'socket.io-client';
import * as Y from 'yjs';
import type { ErrorEvent, UserInfo } from '../../lib/protocol/events';
import { SocketIoProvider, type ConnectionStatus } from '../../lib/canvas/socketProvider';

export interface RoomConnection {
  socket: Socket;
  doc: Y.Doc;
  provider: SocketIoProvider;
  status: ConnectionStatus;
  /** first sync with the server done: the document is the room's, not an empty local one */
  synced: boolean;
  /** the last problem worth showing (failed join, server error); cleared once connected */
  error: string | null;
}

export function useRoomConnection(roomId: string, user: UserInfo | null): RoomConnection | null {
  const [conn, setConn] = useState<Omit<RoomConnection, 'status' | 'synced' | 'error'> | null>(null);
  const [status, setStatus] = useState<ConnectionStatus>('connecting');
  const [synced, setSynced] = useState(false);
  const [error, setError] = useState<string | null>(null);
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
        if (s === 'connected') setError(null);
      }),
      provider.onError((e: ErrorEvent) => setError(e.message)),
    ];
    const onConnectError = (e: Error) =>
      setError(`Cannot reach the server (${e.message}); retrying…`);
    socket.on('connect_error', onConnectError);
    provider.whenSynced().then(() => setSynced(true));
    setConn({ socket, doc, provider });
    socket.connect();
    return () => {
      for (const u of unsubs) u();
      socket.off('connect_error', onConnectError);
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

  return conn ? { ...conn, status, synced, error } : null;
}
