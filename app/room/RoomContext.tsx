'use client';
// What every component inside a room may need besides the editor: the room id, the one Socket.IO
// connection (render results arrive on it), the Yjs provider, the local participant and the
// access the server granted (role, open room, a name fixed by single sign-on).
import { createContext, useContext } from 'react';
import type { Socket } from 'socket.io-client';
import type * as Y from 'yjs';
import type { AccessGrant } from '../../lib/canvas/roomAccess';
import type { ConnectionStatus, SocketIoProvider } from '../../lib/canvas/socketProvider';
import type { Participant } from './participant';
import type { DeleteResult } from './useRoomConnection';

export interface RoomContextValue {
  roomId: string;
  socket: Socket;
  provider: SocketIoProvider;
  doc: Y.Doc;
  /** as others see me: the name is the one a single-sign-on token fixes, if any */
  user: Participant;
  /** what the server granted this page: owner, editor or viewer; an open room (everyone edits) */
  access: AccessGrant;
  status: ConnectionStatus;
  /** cluster mode: why changes may reach people on other servers late (see RoomConnection.syncDegraded) */
  syncDegraded: string | null;
  /** the problem the room panel shows (see RoomConnection.error) */
  error: string | null;
  /** show a problem in the room panel */
  reportError: (message: string) => void;
  dismissError: () => void;
  /** owner only: delete the room for everyone */
  deleteRoom: () => Promise<DeleteResult>;
}

export const RoomContext = createContext<RoomContextValue | null>(null);

export function useRoom(): RoomContextValue {
  const room = useContext(RoomContext);
  if (!room) throw new Error('useRoom() must be used inside a room page (RoomContext is missing)');
  return room;
}
