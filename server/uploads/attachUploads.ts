// HTTP uploads of canvas images (see lib/protocol/uploads.ts): attached to the server in one call
// (server/index.ts). tldraw's asset store in the browser (lib/canvas/uploadAssetStore.ts) posts a
// dropped or pasted file here and puts only the returned URL into the shared document.
import type { IncomingMessage, ServerResponse } from 'node:http';
import sharp, { type Metadata } from 'sharp';
import { ROOM_ID_PATTERN } from '../../lib/protocol/limits';
import {
  isUploadImageType,
  MAX_ROOM_UPLOAD_BYTES,
  MAX_UPLOAD_BYTES,
  UPLOAD_ID_PATTERN,
  UPLOADS_PATH,
  uploadUrl,
  type UploadImageType,
  type UploadResult,
} from '../../lib/protocol/uploads';
import type { LivecanvasServer } from '../LivecanvasServer';
import { sendJson } from '../http/sendJson';
import { UploadStore } from './UploadStore';

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

const mb = (n: number) => `${(n / 1048576).toFixed(1).replace(/\.0$/, '')} MB`;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface UploadsOptions {
  maxFileBytes?: number;
  maxRoomBytes?: number;
}

export function attachUploads(server: LivecanvasServer, opts: UploadsOptions = {}): UploadStore {
  const { rooms, routes, logger } = server;
  const log = logger.child({ module: 'uploads' });
  const uploads = new UploadStore(server.store.db);
  const maxFile = opts.maxFileBytes ?? MAX_UPLOAD_BYTES;
  const maxRoom = opts.maxRoomBytes ?? MAX_ROOM_UPLOAD_BYTES;

  const receive = async (req: IncomingMessage, roomId: string): Promise<UploadResult> => {
    const mime = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (!isUploadImageType(mime)) {
      throw new HttpError(415, `only images can be uploaded (PNG, JPEG, WebP, GIF, AVIF, SVG), not ${JSON.stringify(mime || 'no content-type')}`);
    }
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > maxFile) throw new HttpError(413, `the file is ${mb(declared)}, over the ${mb(maxFile)} limit per file`);
    // Uploads go to a room someone is in (the page uploads while it is joined), so a room id
    // alone does not buy storage.
    if (!rooms.get(roomId)) throw new HttpError(404, `room ${roomId} is not open; join it before uploading`);
    const used = uploads.roomBytes(roomId);
    const data = await readBody(req, maxFile);
    if (!data) throw new HttpError(413, `the file is over the ${mb(maxFile)} limit per file`);
    if (used + data.byteLength > maxRoom) {
      throw new HttpError(413, `this room already holds ${mb(used)} of uploads (limit ${mb(maxRoom)}); delete images elsewhere or start a new room`);
    }
    let meta: Metadata;
    try {
      meta = await sharp(data, { animated: false }).metadata();
    } catch {
      throw new HttpError(415, `the file is not a readable ${mime} image`);
    }
    if (meta.format !== SHARP_FORMAT[mime]) {
      throw new HttpError(415, `the file is not a ${mime} image (its content is ${meta.format ?? 'unknown'})`);
    }
    const stored = uploads.put(roomId, mime, data, { width: meta.width ?? 0, height: meta.height ?? 0 });
    log.info({ room: roomId, id: stored.id, bytes: stored.bytes, mime }, 'upload stored');
    const { id, bytes, width, height } = stored;
    return { id, src: uploadUrl(roomId, id), bytes, mime: stored.mime, width, height };
  };

  const serve = (req: IncomingMessage, res: ServerResponse, roomId: string, id: string) => {
    const meta = UPLOAD_ID_PATTERN.test(id) ? uploads.meta(roomId, id) : undefined;
    if (!meta) throw new HttpError(404, 'no such upload');
    const etag = `"${id}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag, ...SERVE_HEADERS }).end();
      return;
    }
    res.writeHead(200, { 'content-type': meta.mime, 'content-length': meta.bytes, etag, ...SERVE_HEADERS });
    if (req.method === 'HEAD') res.end();
    else res.end(uploads.data(roomId, id));
  };

  routes.add(`${UPLOADS_PATH}/`, async (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const [roomId = '', id, ...rest] = path.slice(UPLOADS_PATH.length + 1).split('/');
    try {
      if (!ROOM_ID_PATTERN.test(roomId) || rest.length) throw new HttpError(400, 'not an upload URL: /api/uploads/<roomId>[/<id>]');
      if (id === undefined || id === '') {
        if (req.method !== 'POST') throw new HttpError(405, `${req.method} ${UPLOADS_PATH}/<roomId>: only POST`, { allow: 'POST' });
        sendJson(res, 201, await receive(req, roomId));
      } else {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method} ${UPLOADS_PATH}/<roomId>/<id>: only GET`, { allow: 'GET, HEAD' });
        serve(req, res, roomId, id);
      }
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      // Answer a refused upload after its body (a client still writing would see a reset, not
      // the message), unless it keeps going far beyond what we accept.
      if (req.method === 'POST' && !req.readableEnded && !(await drain(req, 2 * maxFile))) return;
      if (res.headersSent || res.destroyed) return;
      sendJson(res, e.status, { error: e.message }, e.headers);
    }
  });
  return uploads;
}

/** The request body, or null as soon as it is over `limit` (the caller drops the rest). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      total += chunk.byteLength;
      chunks.push(chunk);
      if (total <= limit) return;
      req.pause();
      req.off('data', onData);
      req.off('end', onEnd);
      resolve(null);
    };
    const onEnd = () => resolve(Buffer.concat(chunks, total));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', reject);
  });
}

/** Read and drop the rest of a body; false (connection destroyed) past `limit` bytes. */
function drain(req: IncomingMessage, limit: number): Promise<boolean> {
  return new Promise((resolve) => {
    let total = 0;
    req.on('data', (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total > limit) {
        req.destroy();
        resolve(false);
      }
    });
    req.on('end', () => resolve(true));
    req.on('error', () => resolve(false));
    req.resume();
  });
}

