'use client';
// Start a room or join one; set the name and colour others will see.
import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { newRoomId, parseRoomInput } from '../lib/canvas/roomId';
import { ParticipantEditor } from './room/ParticipantEditor';
import { useParticipant } from './room/useParticipant';

export function Landing() {
  const router = useRouter();
  const [me, setMe] = useParticipant();
  const [link, setLink] = useState('');
  const [error, setError] = useState<string | null>(null);

  const join = (e: FormEvent) => {
    e.preventDefault();
    const id = parseRoomInput(link);
    if (!id) {
      setError('That is not a room link or id. Paste the whole link someone shared with you.');
      return;
    }
    router.push(`/r/${id}`);
  };

  return (
    <main className="lc-center">
      <div className="lc-card lc-landing">
        <h1>Livecanvas</h1>
        <p className="lc-lead">Sketch together on one canvas and watch it rendered live.</p>
        <button
          type="button"
          className="lc-button lc-primary"
          data-testid="create-room"
          onClick={() => router.push(`/r/${newRoomId()}`)}
        >
          Create a room
        </button>
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
        {me && <ParticipantEditor participant={me} onChange={setMe} />}
      </div>
    </main>
  );
}
