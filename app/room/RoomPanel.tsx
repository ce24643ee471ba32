'use client';
// Top-right panel of a room (tldraw's SharePanel slot): the last problem worth knowing about,
// a "View only" badge for viewers, connection badge, who is here (with my name/colour editor:
// Escape or a click outside closes it), and the Share button.
import { useCallback, useRef, useState } from 'react';
import { viewerLabel } from '../../lib/canvas/presence';
import type { ConnectionStatus } from '../../lib/canvas/socketProvider';
import { ParticipantEditor } from './ParticipantEditor';
import { useRoom } from './RoomContext';
import { ShareDialog } from './ShareDialog';
import { useDismiss } from './useDismiss';
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
  const [sharing, setSharing] = useState(false);
  const shareButton = useRef<HTMLButtonElement>(null);
  const peopleButton = useRef<HTMLButtonElement>(null);
  const peoplePanel = useRef<HTMLDivElement>(null);
  const closePeople = useCallback((refocus: boolean) => {
    setOpen(false);
    if (refocus) peopleButton.current?.focus();
  }, []);
  useDismiss(open, closePeople, peoplePanel, peopleButton);
  const closeShare = useCallback((refocus: boolean) => {
    setSharing(false);
    if (refocus) shareButton.current?.focus();
  }, []);
  const viewer = room.access.role === 'viewer';

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
      {viewer && (
        <span
          className="lc-badge lc-badge-viewonly"
          data-testid="view-only"
          title="You can look, follow cursors and renders, and point with the laser; changes are made by the owner and editors."
        >
          <svg width="14" height="14" viewBox="0 0 16 16" fill="none" stroke="currentColor" strokeWidth="1.5" aria-hidden>
            <path d="M1 8s2.5-5 7-5 7 5 7 5-2.5 5-7 5-7-5-7-5z" />
            <circle cx="8" cy="8" r="2" />
          </svg>
          View only
        </span>
      )}
      <ConnectionBadge status={room.status} />
      {room.syncDegraded && room.status === 'connected' && (
        <span className="lc-badge lc-badge-degraded" data-testid="sync-degraded" role="status" title={room.syncDegraded}>
          <span className="lc-badge-dot" aria-hidden />
          Others may lag: saved
        </span>
      )}
      <button
        ref={peopleButton}
        type="button"
        className="lc-people-button"
        onClick={() => {
          setOpen((o) => !o);
          setSharing(false);
        }}
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
        <div className="lc-popover" data-testid="people-panel" ref={peoplePanel}>
          <ul className="lc-participants" data-testid="participants">
            {people.map((p) => (
              <li key={p.clientId}>
                <span className="lc-dot" style={{ background: p.color }} aria-hidden />
                <span className="lc-name">{p.role === 'viewer' ? viewerLabel(p.name) : p.name}</span>
                {p.isSelf && <span className="lc-you">(you)</span>}
              </li>
            ))}
          </ul>
          {me && <ParticipantEditor participant={me} onChange={setMe} fixedName={room.access.name} />}
        </div>
      )}
      <button
        ref={shareButton}
        type="button"
        className="lc-share-button"
        onClick={() => {
          setSharing((s) => !s);
          setOpen(false);
        }}
        aria-haspopup="dialog"
        aria-expanded={sharing}
        data-testid="share-button"
      >
        Share
      </button>
      {sharing && <ShareDialog onClose={closeShare} anchor={shareButton} />}
    </div>
  );
}
