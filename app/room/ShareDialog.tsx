'use client';
// The Share dialog, opened from the Share button at the top right of a room. The owner copies the
// edit and view links, replaces either (whoever holds the old one loses access at once) and may
// delete the room; an open room (from before access control) just shares its address; editors and
// viewers learn that only the owner hands out links (their own address carries no token: the page
// removed it from the address bar). Escape or a click outside closes it.
import { useCallback, useEffect, useId, useRef, useState, type ReactNode, type RefObject } from 'react';
import { fetchRoomLinks, rotateRoomLink, type RoomLinks } from '../../lib/canvas/roomAccess';
import type { SharedRole } from '../../lib/protocol/access';
import { useRoom } from './RoomContext';
import { useDismiss } from './useDismiss';

/** A link path (`/r/<id>#k=…`) as the address people paste. */
export const absoluteLink = (path: string, origin = window.location.origin) => new URL(path, origin).href;

/** Copies to the clipboard; where the browser refuses, selects the text so Ctrl+C does it. */
async function copyText(text: string, input: HTMLInputElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    input?.focus();
    input?.select();
    return false;
  }
}

const ROLE_TEXT: Record<SharedRole, { label: string; what: string }> = {
  editor: { label: 'Edit link', what: 'Anyone with it can draw, change live frames and pin renders.' },
  viewer: { label: 'View link', what: 'Anyone with it sees the canvas, cursors and renders live, and changes nothing.' },
};

/** `onClose(refocus)`: refocus the Share button (Escape, the close button), not after a click elsewhere. */
export function ShareDialog({ onClose, anchor }: { onClose: (refocus: boolean) => void; anchor: RefObject<HTMLElement | null> }) {
  const room = useRoom();
  const ref = useRef<HTMLDivElement>(null);
  const titleId = useId();

  useEffect(() => ref.current?.focus(), []);
  useDismiss(true, onClose, ref, anchor);

  const { role, open } = room.access;
  return (
    <div
      ref={ref}
      className="lc-popover lc-share-dialog"
      role="dialog"
      aria-labelledby={titleId}
      tabIndex={-1}
      data-testid="share-dialog"
      // tldraw's shortcuts must not fire while typing or selecting in here
      onKeyDown={(e) => e.key !== 'Escape' && e.stopPropagation()}
    >
      <div className="lc-share-head">
        <h2 id={titleId}>Share this room</h2>
        <button type="button" className="lc-icon-button" onClick={() => onClose(true)} aria-label="Close" title="Close (Esc)">
          ×
        </button>
      </div>
      {open ? <OpenRoomShare /> : role === 'owner' ? <OwnerShare /> : <NotOwnerNote viewer={role === 'viewer'} />}
    </div>
  );
}

function OpenRoomShare() {
  return (
    <>
      <p className="lc-share-note" data-testid="share-open">
        This room is open: <strong>anyone with its link can edit</strong>. It has no view-only link.
      </p>
      <LinkRow label="Room link" href={window.location.href} testId="share-link-page" />
    </>
  );
}

function NotOwnerNote({ viewer }: { viewer: boolean }) {
  return (
    <p className="lc-share-note" data-testid="share-not-owner">
      {viewer ? 'You are viewing this room. ' : ''}Only the owner of this room can share it: ask them for an edit
      or a view link. The address in your address bar does not let anyone in.
    </p>
  );
}

function OwnerShare() {
  const room = useRoom();
  const [links, setLinks] = useState<RoomLinks | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    void fetchRoomLinks(room.socket, room.roomId).then((r) => {
      if (!live) return;
      if (r.ok) setLinks(r.links);
      else setProblem(`Could not load the links: ${r.message}`);
    });
    return () => {
      live = false;
    };
  }, [room.socket, room.roomId]);

  const rotate = useCallback(
    async (role: SharedRole): Promise<string | null> => {
      const r = await rotateRoomLink(room.socket, room.roomId, role);
      if (!r.ok) return r.message;
      setLinks(r.links);
      return null;
    },
    [room.socket, room.roomId],
  );

  if (!links) {
    return problem ? (
      <p className="lc-field-error" role="alert">
        {problem}
      </p>
    ) : (
      <p className="lc-share-note">Loading the links…</p>
    );
  }
  return (
    <>
      {(['editor', 'viewer'] as const).map((role) => (
        <LinkRow
          key={role}
          label={ROLE_TEXT[role].label}
          hint={ROLE_TEXT[role].what}
          href={absoluteLink(links[role])}
          testId={`share-link-${role}`}
          rotate={{ role, run: rotate }}
        />
      ))}
      <LinkRow
        label="Your owner link"
        hint="Keep it to yourself: it opens this room as its owner, on any device. This tab forgets it when closed."
        href={absoluteLink(links.owner)}
        testId="share-link-owner"
      />
      <DeleteRoom />
    </>
  );
}

function LinkRow({
  label,
  hint,
  href,
  testId,
  rotate,
}: {
  label: string;
  hint?: ReactNode;
  href: string;
  testId: string;
  rotate?: { role: SharedRole; run: (role: SharedRole) => Promise<string | null> };
}) {
  const input = useRef<HTMLInputElement>(null);
  const id = useId();
  const [copied, setCopied] = useState<'yes' | 'manual' | null>(null);

  useEffect(() => setCopied(null), [href]);
  useEffect(() => {
    if (copied !== 'yes') return;
    const t = setTimeout(() => setCopied(null), 2000);
    return () => clearTimeout(t);
  }, [copied]);

  const copy = async () => setCopied((await copyText(href, input.current)) ? 'yes' : 'manual');
  const what = label.toLowerCase();

  return (
    <section className="lc-share-link" data-testid={testId}>
      <label htmlFor={id}>{label}</label>
      {hint && <p className="lc-share-hint">{hint}</p>}
      <div className="lc-row">
        <input id={id} ref={input} readOnly value={href} onFocus={(e) => e.target.select()} data-testid={`${testId}-value`} />
        <button type="button" className="lc-button lc-small" onClick={copy} data-testid={`${testId}-copy`}>
          {copied === 'yes' ? 'Copied' : 'Copy'}
        </button>
      </div>
      {copied === 'manual' && <p className="lc-share-hint">Your browser blocked copying: press Ctrl+C (⌘C) now.</p>}
      {rotate && (
        <ConfirmedAction
          trigger="Replace link…"
          triggerTestId={`${testId}-replace`}
          ariaLabel={`Replace the ${what}`}
          question={
            <>
              Replace the {what}? Everyone who opened the current one <strong>loses access at once</strong>; send the new
              link to the people who should keep it.
            </>
          }
          act="Replace link"
          acting="Replacing…"
          actTestId={`${testId}-replace-confirm`}
          run={async () => {
            const trouble = await rotate.run(rotate.role);
            return trouble && `Could not replace the link: ${trouble}`;
          }}
        />
      )}
    </section>
  );
}

function DeleteRoom() {
  const room = useRoom();
  return (
    <section className="lc-share-danger">
      <ConfirmedAction
        trigger="Delete room…"
        triggerClassName="lc-link-button lc-danger-text"
        triggerTestId="share-delete"
        ariaLabel="Delete the room"
        question={
          <>
            Delete this room for everyone? Its canvas, renders and links are <strong>gone for good</strong>, and everyone in
            it is disconnected.
          </>
        }
        act="Delete room"
        acting="Deleting…"
        actTestId="share-delete-confirm"
        // on success the page turns into "Room deleted"; this dialog is gone with the canvas
        keepBusyOnSuccess
        run={async () => {
          const r = await room.deleteRoom();
          return r.ok ? null : `Could not delete the room: ${r.message}`;
        }}
      />
    </section>
  );
}

/** A link that asks before it acts: the question, a danger button that runs `run` (which answers a
 * problem to show, or null) and Cancel. */
function ConfirmedAction(props: {
  trigger: string;
  triggerClassName?: string;
  triggerTestId: string;
  ariaLabel: string;
  question: ReactNode;
  act: string;
  acting: string;
  actTestId: string;
  keepBusyOnSuccess?: boolean;
  run: () => Promise<string | null>;
}) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const go = async () => {
    setBusy(true);
    setProblem(null);
    const trouble = await props.run();
    // a final act (deleting) keeps its question open: on success the dialog goes, on failure it
    // can be tried again
    if (!trouble && props.keepBusyOnSuccess) return;
    setBusy(false);
    if (!props.keepBusyOnSuccess) setConfirming(false);
    setProblem(trouble);
  };
  return (
    <>
      {!confirming ? (
        <button type="button" className={props.triggerClassName ?? 'lc-link-button'} onClick={() => setConfirming(true)} data-testid={props.triggerTestId}>
          {props.trigger}
        </button>
      ) : (
        <div className="lc-confirm" role="group" aria-label={props.ariaLabel}>
          <p>{props.question}</p>
          <div className="lc-row">
            <button type="button" className="lc-button lc-small lc-danger" disabled={busy} onClick={go} data-testid={props.actTestId}>
              {busy ? props.acting : props.act}
            </button>
            <button type="button" className="lc-button lc-small" disabled={busy} onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </div>
        </div>
      )}
      {problem && (
        <p className="lc-field-error" role="alert">
          {problem}
        </p>
      )}
    </>
  );
}
