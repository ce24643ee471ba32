'use client';
// Set the name and colour others will see, then start a room or join one. Creating a room is an
// explicit act on the server (`POST /api/rooms`), which makes this tab its owner: the owner link's
// token is kept for this tab (lib/canvas/roomToken.ts) and the room opens. A pasted link keeps its
// token (`#k=…`) the same way.
import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { createRoom } from '../lib/canvas/roomAccess';
import { parseRoomLink } from '../lib/canvas/roomId';
import { rememberRoomToken } from '../lib/canvas/roomToken';
import { tokenFromHash } from '../lib/protocol/access';
import { ParticipantEditor } from './room/ParticipantEditor';
import { markNameAsked } from './room/participant';
import { useParticipant } from './room/useParticipant';

export function Landing() {
  const router = useRouter();
  const [me, setMe] = useParticipant();
  const [link, setLink] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [createError, setCreateError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);

  /** Opens a room, its token (if any) kept for this tab only: it never goes into the address.
   * The name field is on this page: the room does not ask for it again. */
  const open = (roomId: string, token: string | null) => {
    if (token) rememberRoomToken(roomId, token);
    markNameAsked();
    router.push(`/r/${roomId}`);
  };

  const create = async () => {
    setCreating(true);
    setCreateError(null);
    const r = await createRoom();
    if (!r.ok) {
      setCreating(false);
      setCreateError(r.message);
      return;
    }
    // the owner link: whoever created the room owns it
    open(r.room.roomId, tokenFromHash(new URL(r.room.links.owner, window.location.origin).hash));
  };

  const join = (e: FormEvent) => {
    e.preventDefault();
    const parsed = parseRoomLink(link);
    if (!parsed) {
      setError('That is not a room link or id. Paste the whole link someone shared with you.');
      return;
    }
    open(parsed.roomId, parsed.token);
  };

  return (
    <main className="lc-center">
      <div className="lc-card lc-landing">
        <h1>Livecanvas</h1>
        <p className="lc-lead">Sketch together on one canvas and watch it rendered live.</p>
        {me && <ParticipantEditor participant={me} onChange={setMe} />}
        <button
          type="button"
          className="lc-button lc-primary"
          data-testid="create-room"
          disabled={creating}
          aria-busy={creating || undefined}
          onClick={create}
        >
          {creating ? 'Creating a room…' : 'Create a room'}
        </button>
        {createError && (
          <p className="lc-field-error" role="alert" data-testid="create-error">
            {createError}
          </p>
        )}
        <form onSubmit={join} className="lc-join">
          <label htmlFor="room-link">Or open a room</label>
          <div className="lc-row">
            <input
              id="room-link"
              placeholder="Paste a room link or id"
              value={link}
              onChange={(e) => {
                setLink(e.target.value);
                setError(null);
              }}
              data-testid="room-link"
            />
            <button type="submit" className="lc-button">
              Open
            </button>
          </div>
          {error && <p className="lc-field-error">{error}</p>}
        </form>
      </div>
    </main>
  );
}
