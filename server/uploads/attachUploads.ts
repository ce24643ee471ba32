// HTTP uploads of canvas images (see lib/protocol/uploads.ts): attached to the server in one call
// (server/index.ts). tldraw's asset store in the browser (lib/canvas/uploadAssetStore.ts) posts a
// dropped or pasted file here and puts only the returned URL into the shared document.
//
// An upload is refused as early as possible, before its body is read: too many uploads in
// progress (per client address, server-wide: 429), a room that is not open (404) or that the
// uploader's socket has not joined (403), a type that is not an image (415), a declared size over
// the per-file limit (413), a room whose quota (stored + reserved by uploads in progress) cannot
// take it (413), a read-only database (503). The body then streams to a temporary file under
// DATA_DIR (never into memory), hashed on the way, cut off past the size cap (413), the deadline or
// the minimum rate (408); only then is it checked as an image and stored. Past the server-wide
// store quota (STORE_MAX_MB) uploads answer 507, before and after the body. Limits: docs/security.md
// "Uploads". Downloads share one copy of a file among its concurrent readers and are refused (503)
// past UPLOAD_SERVE_MB of distinct files in flight, so slow readers cannot pile up copies.
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import sharp, { type Metadata } from 'sharp';
import { ROOM_ID_PATTERN, UPLOAD_LIMITS } from '../../lib/protocol/limits';
import {
  isUploadImageType,
  MAX_ROOM_UPLOAD_BYTES,
  MAX_UPLOAD_BYTES,
  UPLOAD_ID_PATTERN,
  UPLOAD_SOCKET_HEADER,
  UPLOADS_PATH,
  uploadUrl,
  type UploadImageType,
  type UploadResult,
} from '../../lib/protocol/uploads';
import { clientAddress } from '../http/clientAddress';
import { clientSafeMessage } from '../http/clientSafeMessage';
import { sendJson } from '../http/sendJson';
import type { LivecanvasServer } from '../LivecanvasServer';
import { drainBody, mb, receiveToFile, SlowBodyError, type BodyLimits } from './receiveBody';
import { HttpError, QuotaReservations, ServeBudget, UploadSlots } from './uploadLimits';
import { UploadStore, uploadIdFromSha256 } from './UploadStore';
import { roleAtLeast } from '../../lib/protocol/access';

/** Where bodies are written while they arrive, under DATA_DIR (same disk as the database). */
export const UPLOAD_TMP_DIR = 'upload-tmp';

/** The format sharp reports for the bytes of each accepted mime type. */
const SHARP_FORMAT: Record<UploadImageType, string> = {
  'image/png': 'png',
  'image/apng': 'png',
  'image/jpeg': 'jpeg',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/avif': 'heif',
  'image/svg+xml': 'svg',
};

/** Served files are never run as documents: an SVG opened directly cannot script our origin. */
const SERVE_HEADERS = {
  'cache-control': 'public, max-age=31536000, immutable',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox",
};

export interface UploadsOptions {
  maxFileBytes?: number;
  maxRoomBytes?: number;
  /** uploads in progress at once, server-wide / per client address */
  concurrency?: number;
  concurrencyPerClient?: number;
  timeoutMs?: number;
  minBytesPerS?: number;
  /** bytes of distinct files being downloaded at once */
  serveBytes?: number;
}

export async function attachUploads(server: LivecanvasServer, opts: UploadsOptions = {}): Promise<UploadStore> {
  const { rooms, routes, logger, store, config } = server;
  const log = logger.child({ module: 'uploads' });
  const uploads = await UploadStore.open(store.sql);
  const cfg = config.uploads;
  const maxFile = opts.maxFileBytes ?? MAX_UPLOAD_BYTES;
  const maxRoom = opts.maxRoomBytes ?? cfg?.maxRoomBytes ?? MAX_ROOM_UPLOAD_BYTES;
  const limits: BodyLimits = {
    timeoutMs: opts.timeoutMs ?? cfg?.timeoutMs ?? UPLOAD_LIMITS.timeoutS * 1000,
    minBytesPerS: opts.minBytesPerS ?? cfg?.minBytesPerS ?? UPLOAD_LIMITS.minBytesPerS,
    graceMs: UPLOAD_LIMITS.rateGraceMs,
  };
  const slots = new UploadSlots(
    opts.concurrency ?? cfg?.concurrency ?? UPLOAD_LIMITS.concurrency,
    opts.concurrencyPerClient ?? cfg?.concurrencyPerClient ?? UPLOAD_LIMITS.concurrencyPerClient,
  );
  const reservations = new QuotaReservations();
  const serving = new ServeBudget(opts.serveBytes ?? cfg?.serveBytes ?? UPLOAD_LIMITS.serveMB * 1048576);
  const tmpDir = join(config.dataDir, UPLOAD_TMP_DIR);
  // Bodies of uploads cut short by a crash are of no use to anyone.
  rmSync(tmpDir, { recursive: true, force: true });
  mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  let tmpCounter = 0;

  /** Every check that needs neither the body nor the database; returns the size to reserve. */
  const admit = (req: IncomingMessage, roomId: string): { mime: UploadImageType; reserve: number; declared: number | null } => {
    const room = rooms.get(roomId);
    // Uploads go to a room someone is in (the page uploads while it is joined)…
    if (!room) throw new HttpError(404, `room ${roomId} is not open; join it before uploading`);
    // …and only its participants may add files to it.
    const socketId = req.headers[UPLOAD_SOCKET_HEADER];
    if (typeof socketId !== 'string' || !room.clients.get(socketId)?.connected) {
      throw new HttpError(403, `join the room before uploading to it: send the id of your Socket.IO connection, joined to room ${roomId}, in the ${UPLOAD_SOCKET_HEADER} header`);
    }
    // …with a link that may change the room
    if (!roleAtLeast(server.sockets.roleOf(socketId, roomId) ?? 'viewer', 'editor')) {
      throw new HttpError(403, `this is a view-only link to room ${roomId}: uploading needs an edit link`);
    }
    const mime = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (!isUploadImageType(mime)) {
      throw new HttpError(415, `only images can be uploaded (PNG, JPEG, WebP, GIF, AVIF, SVG), not ${JSON.stringify(mime || 'no content-type')}`);
    }
    const declared = req.headers['content-length'] === undefined ? null : Number(req.headers['content-length']);
    if (declared !== null && declared > maxFile) throw new HttpError(413, `the file is ${mb(declared)}, over the ${mb(maxFile)} limit per file`);
    if (!store.writable) throw new HttpError(503, `uploads are refused: ${store.health.readOnlyReason()}`);
    const reserve = declared !== null && Number.isSafeInteger(declared) && declared >= 0 ? declared : maxFile;
    refuseIfStoreFull(reserve);
    return { mime, reserve, declared };
  };

  /** Reserve `reserve` bytes of the room's quota, or refuse (413) when the room's stored uploads
   * and those still arriving leave no room for them. Reserved before the stored bytes are read, so
   * two uploads checked at once both count the other. */
  const reserveInRoom = async (roomId: string, reserve: number, declared: number | null) => {
    const reservation = reservations.reserve(roomId, reserve);
    try {
      const used = await uploads.roomBytes(roomId);
      const pending = reservations.of(roomId) - reserve;
      if (used + pending + reserve > maxRoom) {
        const inFlight = pending > 0 ? ` and ${mb(pending)} are arriving` : '';
        throw new HttpError(
          413,
          `this room already holds ${mb(used)} of uploads${inFlight} (limit ${mb(maxRoom)} per room); this file${declared === null ? ' (no declared size, so counted as ' + mb(maxFile) + ')' : ''} does not fit: delete images elsewhere or start a new room`,
        );
      }
    } catch (e) {
      reservation.release();
      throw e;
    }
    return reservation;
  };

  /** Read the body into a temporary file, check it is the image it says, store it. */
  const receive = async (req: IncomingMessage, roomId: string, mime: UploadImageType, reservation: ReturnType<QuotaReservations['reserve']>): Promise<UploadResult> => {
    const tmp = join(tmpDir, `${process.pid}-${++tmpCounter}-${Date.now()}.part`);
    try {
      const body = await receiveToFile(req, tmp, maxFile, limits).catch((e: unknown) => {
        if (e instanceof HttpError || req.destroyed) throw e;
        // The disk (full, unwritable): answered like any refusal, the rest of the body bounded.
        log.error({ err: e, room: roomId }, 'could not write an upload to its temporary file');
        throw new HttpError(507, `the server could not receive the file (${clientSafeMessage(e)}); try again later`);
      });
      reservation.resize(body.bytes);
      const id = uploadIdFromSha256(body.sha256);
      const existing = await uploads.meta(roomId, id);
      if (existing) return resultOf(existing);
      let meta: Metadata;
      try {
        meta = await sharp(tmp, { animated: false }).metadata();
      } catch {
        throw new HttpError(415, `the file is not a readable ${mime} image`);
      }
      if (meta.format !== SHARP_FORMAT[mime]) {
        throw new HttpError(415, `the file is not a ${mime} image (its content is ${meta.format ?? 'unknown'})`);
      }
      if (!store.writable) throw new HttpError(503, `uploads are refused: ${store.health.readOnlyReason()}`);
      refuseIfStoreFull(body.bytes);
      // Read only now, and dropped once stored: a file's bytes are in memory only while it is
      // written (SQLite: in one synchronous step unless a transaction holds the database).
      let stored;
      try {
        stored = await uploads.put(roomId, mime, readFileSync(tmp), { width: meta.width ?? 0, height: meta.height ?? 0 }, id);
      } catch (e) {
        store.noteCorruption(e, roomId);
        log.error({ err: e, room: roomId, db: store.path }, 'could not store an upload');
        throw new HttpError(503, `the server could not store the file (${clientSafeMessage(e)}); try again later`);
      }
      log.info({ room: roomId, id: stored.id, bytes: stored.bytes, mime }, 'upload stored');
      return resultOf(stored);
    } finally {
      rmSync(tmp, { force: true });
    }
  };

  /** The server-wide store quota (STORE_MAX_MB): 507 Insufficient Storage past it. */
  const refuseIfStoreFull = (bytes: number) => {
    const full = store.quotaRefusal(bytes);
    if (full) throw new HttpError(507, `${full}; the file was not stored`);
  };

  const resultOf = (s: { id: string; bytes: number; mime: string; width: number; height: number; roomId: string }): UploadResult => ({
    id: s.id,
    src: uploadUrl(s.roomId, s.id),
    bytes: s.bytes,
    mime: s.mime,
    width: s.width,
    height: s.height,
  });

  const post = async (req: IncomingMessage, res: ServerResponse, roomId: string) => {
    // One slot from the first byte to the answer (released however the request ends).
    const release = slots.acquire(clientAddress(req, config.http?.trustProxy ?? false));
    res.once('close', release);
    const { mime, reserve, declared } = admit(req, roomId);
    const reservation = await reserveInRoom(roomId, reserve, declared);
    try {
      sendJson(res, 201, await receive(req, roomId, mime, reservation));
    } finally {
      reservation.release();
    }
  };

  const serve = async (req: IncomingMessage, res: ServerResponse, roomId: string, id: string) => {
    const meta = UPLOAD_ID_PATTERN.test(id) ? await uploads.meta(roomId, id) : undefined;
    if (!meta) throw new HttpError(404, 'no such upload');
    const etag = `"${id}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag, ...SERVE_HEADERS }).end();
      return;
    }
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-type': meta.mime, 'content-length': meta.bytes, etag, ...SERVE_HEADERS }).end();
      return;
    }
    const file = await serving.open(`${roomId}/${id}`, meta.bytes, () => uploads.data(roomId, id));
    if (!file) throw new HttpError(404, 'no such upload');
    res.once('close', file.release);
    res.writeHead(200, { 'content-type': meta.mime, 'content-length': file.data.byteLength, etag, ...SERVE_HEADERS });
    res.end(file.data);
  };

  routes.add(`${UPLOADS_PATH}/`, async (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const [roomId = '', id, ...rest] = path.slice(UPLOADS_PATH.length + 1).split('/');
    try {
      if (!ROOM_ID_PATTERN.test(roomId) || rest.length) throw new HttpError(400, 'not an upload URL: /api/uploads/<roomId>[/<id>]');
      if (id === undefined || id === '') {
        if (req.method !== 'POST') throw new HttpError(405, `${req.method} ${UPLOADS_PATH}/<roomId>: only POST`, { allow: 'POST' });
        await post(req, res, roomId);
      } else {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method} ${UPLOADS_PATH}/<roomId>/<id>: only GET`, { allow: 'GET, HEAD' });
        // any role in that very room may read its files (the room's cookie, or an open room)
        if (await server.authorizeRead(req, res, roomId)) await serve(req, res, roomId, id);
      }
    } catch (e) {
      if (!(e instanceof HttpError)) {
        if (req.destroyed || res.destroyed) return; // the client went away mid-body: nothing to answer
        throw e;
      }
      refuse(req, res, e);
    }
  });
  return uploads;

  /** Answer at once (the client may read it before it has sent everything), then read and drop
   * the rest of the body within the same bounds, so the connection can carry the answer; a body
   * that is too slow is not read on: its connection is closed after the answer. */
  function refuse(req: IncomingMessage, res: ServerResponse, e: HttpError) {
    if (res.headersSent || res.destroyed) return;
    sendJson(res, e.status, { error: e.message }, e.headers);
    if (req.method !== 'POST' || req.readableEnded) return;
    if (e instanceof SlowBodyError) {
      res.once('finish', () => setTimeout(() => req.socket?.destroy(), 500).unref());
      return;
    }
    void drainBody(req, 2 * maxFile, limits);
  }
}
