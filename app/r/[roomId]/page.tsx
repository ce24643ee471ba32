import type { Metadata } from 'next';
import Link from 'next/link';
import { isRoomId } from '../../../lib/canvas/roomId';
import { RoomClient } from './RoomClient';

export const metadata: Metadata = { title: 'Livecanvas room' };

export default async function RoomPage({ params }: { params: Promise<{ roomId: string }> }) {
  const { roomId } = await params;
  if (!isRoomId(roomId)) {
    return (
      <main className="lc-center" data-testid="invalid-room">
        <div className="lc-card">
          <h1>This is not a room link</h1>
          <p>
            Room ids are 10 to 64 letters, digits, <code>-</code> or <code>_</code>. Check that you
            copied the whole link, or start a new room.
          </p>
          <Link className="lc-button" href="/">
            Go to the start page
          </Link>
        </div>
      </main>
    );
  }
  return <RoomClient roomId={roomId} />;
}
