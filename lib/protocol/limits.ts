// Every limit the server enforces, in one place, so the client can respect the same numbers
// (and the docs can quote them) instead of learning them from error events.

/** Room ids are unguessable capability links: url-safe, at least 10 random chars. */
export const ROOM_ID_PATTERN = /^[A-Za-z0-9_-]{10,64}$/;
export const ROOM_ID_LENGTH = 16;

/** A single Yjs sync/awareness message larger than this is refused (and never applied). */
export const MAX_YJS_MESSAGE_BYTES = 2 * 1024 * 1024;

/** A room's document (its encoded Yjs state) may not grow beyond this: updates that would make it
 * larger are refused with `too-large`. Deletions are always accepted, so a full room can be cleaned. */
export const MAX_ROOM_BYTES = 64 * 1024 * 1024;

/** One awareness state (a person's cursor, selection, name…) as JSON; larger ones are dropped. */
export const MAX_AWARENESS_STATE_BYTES = 64 * 1024;

/** Snapshot images: encoded size and decoded dimensions. */
export const MAX_SNAPSHOT_BYTES = 2 * 1024 * 1024;
export const MAX_SNAPSHOT_SIDE = 2048;

/** Per-socket token bucket over all incoming events. Drawing produces ~60 Yjs messages/s plus
 * awareness and at most 20 snapshots/s per frame, so this leaves ample head-room for people
 * while cutting off scripts that flood. */
export const RATE_LIMIT = {
  /** tokens refilled per second */
  perSecond: 300,
  /** bucket size (burst) */
  burst: 600,
};

/** Per-socket token bucket over the bytes of all incoming events: a few messages of 2 MB are
 * fine, a stream of them is not. Sized for a person drawing into a 512² live frame, whose JPEG
 * snapshots (~30–100 KB, up to 20/s) make 1–2 MB/s. Awareness over either budget is dropped
 * silently. */
export const BYTE_RATE_LIMIT = {
  /** bytes refilled per second */
  perSecond: 2 * 1024 * 1024,
  /** bucket size (burst) */
  burst: 8 * 1024 * 1024,
};

/** Per client address, over all its connections (the per-socket budgets above multiply with the
 * number of sockets, and one script can open hundreds): at most `sockets` connections at once (a
 * person has a few tabs; a house or office behind one NAT, a few dozen), and one byte budget over
 * what they all send — four sockets' worth, so one person drawing in several tabs never meets it. */
export const ADDRESS_LIMITS = {
  sockets: 32,
  bytes: { perSecond: 4 * BYTE_RATE_LIMIT.perSecond, burst: 4 * BYTE_RATE_LIMIT.burst },
};

/** After this many rejected messages within VIOLATION_WINDOW_MS the socket is disconnected. */
export const MAX_VIOLATIONS = 20;
export const VIOLATION_WINDOW_MS = 10_000;

/** Client side snapshot pacing: at most one snapshot per frame per this interval while drawing. */
export const SNAPSHOT_MIN_INTERVAL_MS = 50;

/** Per-socket token bucket over `frame:snapshot` (each one is fully decoded before it is accepted):
 * twice what one client drawing into one frame sends (1000 / SNAPSHOT_MIN_INTERVAL_MS). */
export const SNAPSHOT_RATE_LIMIT = {
  perSecond: 40,
  burst: 40,
};

/** Output sizes accepted by exported UNets: multiples of 64. */
export const MIN_RENDER_SIDE = 128;
export const MAX_RENDER_SIDE = 1024;

/** Renders kept per frame for stepping back through history. */
export const RENDER_HISTORY_LENGTH = 20;

/** The JPEG bytes of a `renders:replay` answer: the newest render of each frame first, then older
 * ones, while they fit. */
export const REPLAY_MAX_BYTES = 8 * 1024 * 1024;

/** Live frames of one room that may hold render state (a slot, kept renders) at once; snapshots of
 * further frames are refused with `too-large` until one is deleted. */
export const MAX_RENDER_FRAMES_PER_ROOM = 64;

/** A snapshot's seq is the client's wall clock (ms); one further ahead of the server's clock than
 * this is taken as now + this, so a bogus huge seq cannot lock a frame for everyone. */
export const SEQ_CLOCK_ALLOWANCE_MS = 60_000;

/** Awareness entries of a disconnected client are removed at once by the server; clients also
 * time out silent peers (y-protocols' default is 30 s, we want cursors gone within 5 s). */
export const PRESENCE_TIMEOUT_MS = 4_000;

/** Render sides are multiples of this (between MIN_RENDER_SIDE and MAX_RENDER_SIDE): the UNet
 * works on 1/8-size latents, and 64 keeps every exported UNet's down/up-sampling even. */
export const RENDER_SIDE_MULTIPLE = 64;

/** Guidance scale of a new live frame, and of an engine run that names none: LCM's usual UI
 * default (diffusers uses 8.5); only LCM-style UNets with a guidance embedding read it. */
export const DEFAULT_GUIDANCE = 8;

/** Uploads in progress at once (server-wide and per client address), how long a body may take and
 * how slowly it may arrive; env overrides UPLOAD_CONCURRENCY, UPLOAD_CONCURRENCY_PER_CLIENT,
 * UPLOAD_TIMEOUT_S, UPLOAD_MIN_BYTES_PER_S (docs/security.md "Uploads"). A page uploads at most
 * UPLOAD_CLIENT_CONCURRENCY files at once, so one person stays under the per-address limit. */
export const UPLOAD_LIMITS = {
  concurrency: 16,
  concurrencyPerClient: 4,
  /** 20 MB in 120 s is ~1.4 Mbit/s */
  timeoutS: 120,
  /** 16 KB/s on average, counted from the start once `rateGraceMs` have passed */
  minBytesPerS: 16 * 1024,
  rateGraceMs: 5_000,
  /** MB of distinct uploaded files being sent to downloaders at once (UPLOAD_SERVE_MB) */
  serveMB: 256,
};

/** Uploads one page runs at once (lib/canvas/uploadAssetStore.ts queues the rest). */
export const UPLOAD_CLIENT_CONCURRENCY = 2;

/** Strict-Transport-Security max-age (s) sent on responses to HTTPS requests: 180 days. */
export const HSTS_MAX_AGE_S = 180 * 24 * 3600;

/** Yjs client ids one connection may write with in one room. An id belongs to the first connection
 * that writes with it there (until it leaves); a browser tab uses one (a few after id conflicts),
 * more only when it passes on others' changes the server lost. Past this, its updates are refused. */
export const MAX_YJS_CLIENT_IDS_PER_SOCKET = 256;

/** Per-socket token bucket over the bytes the server sends a socket because it asked: the sync
 * step 2 answering its step 1 (the whole document for an empty state vector), everyone's presence
 * on join. One such reply is in flight per socket; later requests wait and are coalesced. A reply
 * larger than the bucket is sent from a full bucket (joining a big room works) and leaves it in debt. */
export const OUTGOING_BYTE_RATE_LIMIT = {
  perSecond: 2 * 1024 * 1024,
  burst: 8 * 1024 * 1024,
};

/** A socket whose unsent outgoing data (engine.io's buffer plus the WebSocket's) grows past this,
 * on top of the reply being sent, does not read what it is sent: it is disconnected. */
export const MAX_SOCKET_BUFFER_BYTES = 16 * 1024 * 1024;

/** Awareness (presence) client ids one connection may speak for in one room: a page uses one.
 * Entries announcing further ids are dropped (the rest of the update is applied), with one
 * `lc:error` per connection and room; an id the connection removes frees its place. */
export const MAX_AWARENESS_IDS_PER_SOCKET = 4;
