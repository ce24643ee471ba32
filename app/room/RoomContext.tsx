'use client';
// What every component inside a room may need besides the editor: the room id, the one Socket.IO
// connection (render results arrive on it), the Yjs provider and the local participant.
import { createContext, useContext } from 'react';
import type { Socket } from 'socket.io-client';
import type * as Y from 'yjs';
import type { ConnectionStatus, SocketIoProvider } from '../../lib/canvas/socketProvider';
import type { Participant } from './participant';

export interface RoomContextValue {
  roomId: string;
  socket: Socket;
  provider: SocketIoProvider;
  doc: Y.Doc;
  user: Participant;
  status: ConnectionStatus;
  /** the problem the room panel shows (see RoomConnection.error) */
  error: string | null;
  /** show a problem in the room panel */
  reportError: (message: string) => void;
  dismissError: () => void;
}

export const RoomContext = createContext<RoomContextValue | null>(null);

export function useRoom(): RoomContextValue {
  const room = useContext(RoomContext);
  if (!room) throw new Error('useRoom() must be used inside a room page (RoomContext is missing)');
  return room;
}
