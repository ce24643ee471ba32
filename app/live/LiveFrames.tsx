'use client';
// Mount inside <Tldraw> once the room's socket exists: starts the live session (renders in,
// snapshots out) for this editor and shows the settings panel of the selected live frame.
import { useEffect } from 'react';
import type { Socket } from 'socket.io-client';
import { useEditor } from 'tldraw';
import { LiveFramePanel } from './LiveFramePanel';
import './live.css';
import { LiveSession } from './liveSession';

export function LiveFrames({ socket, roomId }: { socket: Socket; roomId: string }) {
  const editor = useEditor();
  useEffect(() => {
    const session = new LiveSession(editor, socket, roomId);
    return () => session.dispose();
  }, [editor, socket, roomId]);
  return <LiveFramePanel />;
}
