'use client';
// Top-right panel of a room (tldraw's SharePanel slot): the last problem worth knowing about,
// connection badge, who is here, and my name/colour editor.
import { useState } from 'react';
import type { ConnectionStatus } from '../../lib/canvas/socketProvider';
import { ParticipantEditor } from './ParticipantEditor';
import { useRoom } from './RoomContext';
import { useParticipant } from './useParticipant';
import { useParticipants } from './useParticipants';

const STATUS_LABEL: Record<ConnectionStatus, string> = {
  connecting: 'Connecting…',
  syncing: 'Syncing…',
  connected: 'Connected',
  offline: 'Offline: edits are kept',
};

export function ConnectionBadge({ status }: { status: ConnectionStatus }) {
  return (
    <span className={`lc-badge lc-badge-${status}`} data-testid="connection-status" data-status={status}>
      <span className="lc-badge-dot" aria-hidden />
      {STATUS_LABEL[status]}
    </span>
  );
}

export function RoomPanel() {
  const room = useRoom();
  const people = useParticipants(room.provider.awareness);
  const [me, setMe] = useParticipant();
  const [open, setOpen] = useState(false);
  const [copied, setCopied] = useState(false);

  const copyLink = async () => {
    try {
      await navigator.clipboard.writeText(window.location.href);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      window.prompt('Copy this room link:', window.location.href);
    }
  };

  return (
    <div className="tlui-share-zone lc-room-panel" draggable={false}>
      {room.error && (
        <div className="lc-room-error" role="alert" data-testid="room-error">
          <span>{room.error}</span>
          <button type="button" className="lc-room-error-close" onClick={room.dismissError} title="Dismiss" aria-label="Dismiss">
            ×
          </button>
        </div>
      )}
      <ConnectionBadge status={room.status} />
      <button
        type="button"
        className="lc-people-button"
        onClick={() => setOpen((o) => !o)}
        aria-expanded={open}
        title="People in this room"
        data-testid="people-button"
      >
        {people.slice(0, 5).map((p) => (
          <span key={p.clientId} className="lc-avatar" style={{ background: p.color }}>
            {p.name.slice(0, 1).toUpperCase()}
          </span>
        ))}
        <span className="lc-people-count">{people.length}</span>
      </button>
      {open && (
        <div className="lc-popover" data-testid="people-panel">
          <ul className="lc-participants" data-testid="participants">
            {people.map((p) => (
              <li key={p.clientId}>
                <span className="lc-dot" style={{ background: p.color }} aria-hidden />
                <span className="lc-name">{p.name}</span>
                {p.isSelf && <span className="lc-you">(you)</span>}
              </li>
            ))}
          </ul>
          {me && <ParticipantEditor participant={me} onChange={setMe} />}
          <button type="button" className="lc-button" onClick={copyLink}>
            {copied ? 'Link copied' : 'Copy room link'}
          </button>
        </div>
      )}
    </div>
  );
}
