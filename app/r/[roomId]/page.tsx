import type { Metadata } from 'next';
import Link from 'next/link';
import { isRoomId } from '../../../lib/canvas/roomId';
import { RoomClient } from './RoomClient';

export const metadata: Metadata = { title: 'Livecanvas room' };
// Rendered per request, so the licence key below is the running server's, not the build's.
export const dynamic = 'force-dynamic';

/** tldraw's licence key (needed on HTTPS), read when the page is requested: a key set only when
 * starting an existing build still reaches the editor. Looked up by a computed name because Next
 * inlines `process.env.NEXT_PUBLIC_…` written out literally at build time, on the server too. */
const runtimeEnv = (name: string) => process.env[name] || undefined;
const tldrawLicenseKey = () => runtimeEnv('TLDRAW_LICENSE_KEY') ?? runtimeEnv('NEXT_PUBLIC_TLDRAW_LICENSE_KEY');

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
  return <RoomClient roomId={roomId} licenseKey={tldrawLicenseKey()} />;
}
