'use client';
// The whole page when this tab may not be in the room: the link was refused (revoked, invalid,
// for another room), the room does not exist, the owner replaced the link or deleted the room while
// we were in it, or we deleted it ourselves. Nothing is retried; the message says what to do.
import Link from 'next/link';
import type { RoomDenial } from './useRoomConnection';

interface DenialText {
  title: string;
  lead: string;
  /** the server's own words, when they add something */
  detail?: string;
}

export function describeDenial(denial: RoomDenial): DenialText {
  if (denial.kind === 'deleted') {
    return { title: 'Room deleted', lead: 'You deleted this room: its canvas, renders and links are gone for everyone.' };
  }
  if (denial.kind === 'revoked') {
    return {
      title: 'Access revoked',
      lead: `Access revoked: ${denial.message.replace(/[.\s]*$/, '')}.`,
      detail: 'Ask the owner for a new link.',
    };
  }
  if (denial.code === 'no-such-room') {
    return {
      title: 'This room does not exist',
      lead: 'Check that you copied the whole link, or create a new room.',
      detail: denial.message,
    };
  }
  if (denial.code === 'forbidden' || denial.code === 'unauthorized') {
    return {
      title: 'This link was revoked or is not valid',
      lead: 'Ask the owner for a new link.',
      detail: denial.message,
    };
  }
  return { title: 'You cannot join this room', lead: denial.message };
}

export function RoomDenied({ denial }: { denial: RoomDenial }) {
  const text = describeDenial(denial);
  return (
    <main className="lc-center" data-testid="room-denied" data-kind={denial.kind} data-code={denial.code}>
      <div className="lc-card lc-denied" role="alert">
        <h1>{text.title}</h1>
        <p className="lc-denied-lead">{text.lead}</p>
        {text.detail && <p className="lc-denied-detail">{text.detail}</p>}
        <Link className="lc-button lc-primary" href="/">
          Go to the start page
        </Link>
      </div>
    </main>
  );
}
