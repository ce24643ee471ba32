'use client';
// tldraw and the socket need the browser: the room canvas is never rendered on the server.
import dynamic from 'next/dynamic';

const RoomCanvas = dynamic(() => import('./RoomCanvas'), {
  ssr: false,
  loading: () => (
    <main className="lc-center" data-testid="room-loading">
      <div className="lc-card">
        <h1>Opening the room…</h1>
      </div>
    </main>
  ),
});

export function RoomClient({ roomId, licenseKey }: { roomId: string; licenseKey?: string }) {
  return <RoomCanvas roomId={roomId} licenseKey={licenseKey} />;
}
