'use client';
// The room: a full-screen tldraw editor whose document is the room's shared Y.Doc, with live
// cursors, the room panel, and whatever features `roomExtensions` plug in. A viewer gets tldraw's
// read-only editor; a refused or revoked link gets a full-page message instead of the canvas.
// The first room a browser joins by link asks once for the name others see (NamePrompt).
import { getAssetUrls } from '@tldraw/assets/selfHosted';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  atom,
  createTLStore,
  defaultBindingUtils,
  defaultShapeUtils,
  Tldraw,
  type Editor,
  type TLComponents,
  type TLUiOverrides,
} from 'tldraw';
import 'tldraw/tldraw.css';
import { bindPresence } from '../../../lib/canvas/presence';
import { canWrite, type AccessGrant } from '../../../lib/canvas/roomAccess';
import { tooLargeToShareMessage } from '../../../lib/canvas/shareLimits';
import { bindTldrawStoreToYjs } from '../../../lib/canvas/tldrawYjsBinding';
import { createUploadAssetStore } from '../../../lib/canvas/uploadAssetStore';
import { MAX_UPLOAD_BYTES, UPLOAD_IMAGE_TYPES } from '../../../lib/protocol/uploads';
import type { RoomExtension } from '../../room/extension';
import { roomExtensions } from '../../room/extensions';
import { NamePrompt } from '../../room/NamePrompt';
import { setParticipant, wasNameAsked, type Participant } from '../../room/participant';
import { ConnectionBadge, RoomPanel } from '../../room/RoomPanel';
import { RoomContext, type RoomContextValue } from '../../room/RoomContext';
import { RoomDenied } from '../../room/RoomDenied';
import { createTldrawParticipant } from '../../room/tldrawUser';
import { useParticipant } from '../../room/useParticipant';
import { useRoomConnection, type RoomConnection } from '../../room/useRoomConnection';

declare global {
  interface Window {
    /** the room's tldraw editor, for tests and the console */
    editor?: Editor;
  }
}

// Computed once: tldraw re-creates its UI when these change identity.
const assetUrls = getAssetUrls({ baseUrl: '/tldraw-assets' });
/** Images only (the server stores nothing else); videos would be refused after the upload. */
const acceptedImageMimeTypes = [...UPLOAD_IMAGE_TYPES];
const acceptedVideoMimeTypes: string[] = [];
/** Larger images are placed on the canvas scaled down to this (the file itself is kept whole):
 * twice the largest live-frame render. */
const MAX_IMAGE_DIMENSION = 2048;

export default function RoomCanvas({
  roomId,
  licenseKey,
  extensions = roomExtensions,
}: {
  roomId: string;
  /** tldraw licence key, read by the server at request time (see app/r/[roomId]/page.tsx) */
  licenseKey?: string;
  extensions?: readonly RoomExtension[];
}) {
  const [participant] = useParticipant();
  const conn = useRoomConnection(roomId, participant);
  if (conn?.denial) return <RoomDenied denial={conn.denial} />;
  if (!participant || !conn || !conn.synced) {
    return <RoomLoading status={conn?.status ?? 'connecting'} error={conn?.error ?? null} />;
  }
  return (
    <RoomEditor roomId={roomId} conn={conn} participant={participant} extensions={extensions} licenseKey={licenseKey} />
  );
}

function RoomLoading({ status, error }: { status: RoomConnection['status']; error: string | null }) {
  return (
    <main className="lc-center" data-testid="room-loading">
      <div className="lc-card">
        <h1>Joining the room…</h1>
        <ConnectionBadge status={status} />
        {error && <p className="lc-field-error">{error}</p>}
      </div>
    </main>
  );
}

function mergeExtensions(extensions: readonly RoomExtension[]) {
  const fronts = extensions.flatMap((e) => (e.InFrontOfTheCanvas ? [e.InFrontOfTheCanvas] : []));
  const components: TLComponents = {};
  for (const e of extensions) {
    for (const [slot, component] of Object.entries(e.components ?? {})) {
      if (slot in components) {
        console.warn(`[livecanvas] ${e.name} replaces the ${slot} another room extension set`);
      }
      (components as Record<string, unknown>)[slot] = component;
    }
  }
  components.SharePanel = RoomPanel;
  if (fronts.length) {
    components.InFrontOfTheCanvas = function InFrontOfTheCanvas() {
      return fronts.map((Front, i) => <Front key={i} />);
    };
  }
  return {
    shapeUtils: extensions.flatMap((e) => e.shapeUtils ?? []),
    bindingUtils: extensions.flatMap((e) => e.bindingUtils ?? []),
    tools: extensions.flatMap((e) => e.tools ?? []),
    overrides: extensions.flatMap((e): TLUiOverrides[] => (e.overrides ? [e.overrides] : [])),
    onMounts: extensions.flatMap((e) => (e.onMount ? [e.onMount] : [])),
    components,
  };
}

function RoomEditor({
  roomId,
  conn,
  participant,
  extensions,
  licenseKey,
}: {
  roomId: string;
  conn: RoomConnection;
  participant: Participant;
  extensions: readonly RoomExtension[];
  licenseKey?: string;
}) {
  const { reportError } = conn;
  // Mounted after the first join: the access is known. A server without access control grants
  // nothing explicit: everyone edits, as before.
  const access: AccessGrant = conn.access ?? { role: 'editor', open: true };
  const mode = canWrite(access.role) ? 'readwrite' : 'readonly';
  // The name a single-sign-on token fixes is the one shown, here and to others.
  const me = useMemo(() => (access.name ? { ...participant, name: access.name } : participant), [participant, access.name]);
  // Everything tldraw holds on to is created once per room page.
  const [merged] = useState(() => mergeExtensions(extensions));
  const [tlUser] = useState(() => createTldrawParticipant(me));
  const [$collaboration] = useState(() => atom<'online' | 'offline'>('room connection', 'online'));
  // tldraw's read-only mode follows this (the editor sets isReadonly from it)
  const [$mode] = useState(() => atom<'readonly' | 'readwrite'>('room mode', mode));
  const [store] = useState(() =>
    createTLStore({
      shapeUtils: [...defaultShapeUtils, ...merged.shapeUtils],
      bindingUtils: [...defaultBindingUtils, ...merged.bindingUtils],
      users: { currentUser: tlUser.$user },
      collaboration: { status: $collaboration, mode: $mode },
      // Files go to the server over HTTP; the document only holds their URL. The server takes
      // them from sockets joined to the room only: each upload names this page's socket.
      assets: createUploadAssetStore(roomId, { onError: reportError, socketId: () => conn.socket.id }),
    }),
  );
  const [incompatible, setIncompatible] = useState<string | null>(null);
  // a name fixed by a single-sign-on token is not asked for
  const [askName, setAskName] = useState(() => !access.name && !wasNameAsked());

  useEffect(() => {
    tlUser.update(me);
  }, [tlUser, me]);
  useEffect(() => {
    $mode.set(mode);
  }, [$mode, mode]);
  useEffect(() => {
    $collaboration.set(conn.status === 'offline' ? 'offline' : 'online');
  }, [$collaboration, conn.status]);

  const room = useMemo<RoomContextValue>(
    () => ({
      roomId,
      socket: conn.socket,
      provider: conn.provider,
      doc: conn.doc,
      user: me,
      access,
      status: conn.status,
      syncDegraded: conn.syncDegraded,
      error: conn.error,
      reportError: conn.reportError,
      dismissError: conn.dismissError,
      deleteRoom: conn.deleteRoom,
    }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [roomId, conn.socket, conn.provider, conn.doc, me, access.role, access.open, access.name, conn.status, conn.syncDegraded, conn.error, conn.reportError, conn.dismissError, conn.deleteRoom],
  );
  const roomRef = useRef(room);
  roomRef.current = room;

  const onMount = useCallback(
    (editor: Editor) => {
      const binding = bindTldrawStoreToYjs(store, conn.doc, {
        onIncompatible: setIncompatible,
        // The change was undone on this page (it never reached the others); say why.
        onTooLarge: (bytes) => reportError(`${tooLargeToShareMessage(bytes)} It was undone.`),
      });
      const presence = bindPresence(store, conn.provider.awareness, tlUser.$user);
      const cleanups = merged.onMounts.map((fn) => fn(editor, roomRef.current));
      window.editor = editor;
      return () => {
        for (const c of cleanups) if (typeof c === 'function') c();
        presence.dispose();
        binding.dispose();
        if (window.editor === editor) delete window.editor;
      };
    },
    [store, conn.doc, conn.provider, tlUser, merged, reportError],
  );

  return (
    <RoomContext.Provider value={room}>
      <div className="lc-room" data-testid="room" data-role={access.role}>
        <Tldraw
          store={store}
          user={tlUser.currentUser}
          shapeUtils={merged.shapeUtils}
          bindingUtils={merged.bindingUtils}
          tools={merged.tools}
          overrides={merged.overrides}
          components={merged.components}
          assetUrls={assetUrls}
          maxAssetSize={MAX_UPLOAD_BYTES}
          maxImageDimension={MAX_IMAGE_DIMENSION}
          acceptedImageMimeTypes={acceptedImageMimeTypes}
          acceptedVideoMimeTypes={acceptedVideoMimeTypes}
          licenseKey={licenseKey}
          onMount={onMount}
        />
        {askName && (
          <NamePrompt
            participant={participant}
            onDone={(name) => {
              setAskName(false);
              if (name && name !== participant.name) setParticipant({ ...participant, name });
            }}
          />
        )}
        {incompatible && (
          <div className="lc-blocker" role="alertdialog" aria-live="assertive" data-testid="reload-required">
            <div className="lc-card">
              <p>{incompatible}</p>
              <button type="button" className="lc-button" onClick={() => window.location.reload()}>
                Reload
              </button>
            </div>
          </div>
        )}
      </div>
    </RoomContext.Provider>
  );
}
