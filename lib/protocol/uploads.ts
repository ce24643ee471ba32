// Images people drop or paste onto the canvas travel over HTTP, not in the shared document: the
// document only holds their URL. (tldraw's default keeps them in the document as base64, and one
// photo then makes an update larger than the server accepts.)
//   POST {UPLOADS_PATH}/<roomId>        body: the file's bytes, Content-Type: its mime type
//     201 → UploadResult; 4xx → {error: "<one line saying what to do>"}
//     header UPLOAD_SOCKET_HEADER: the id of the uploader's Socket.IO socket, joined to <roomId>
//     (403 without it: only people in the room may add files to it)
//     413 over a limit, 408 a body too slow, 429 too many uploads at once (Retry-After),
//     503 the server's database is read-only (damaged); docs/security.md "Uploads"
//   GET  {UPLOADS_PATH}/<roomId>/<id>   the bytes, immutable (the id is a hash of them)
import { z } from 'zod';

export const UPLOADS_PATH = '/api/uploads';

/** One file. */
export const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;
/** Everything uploaded to one room (env UPLOAD_ROOM_MB). */
export const MAX_ROOM_UPLOAD_BYTES = 512 * 1024 * 1024;

/** The request header naming the uploader's Socket.IO socket id; the socket must have joined the
 * room. (Room access tokens will replace this.) */
export const UPLOAD_SOCKET_HEADER = 'x-livecanvas-socket';

/** What the server stores: images tldraw can show. Each is checked by decoding its header. */
export const UPLOAD_IMAGE_TYPES = [
  'image/png',
  'image/jpeg',
  'image/webp',
  'image/gif',
  'image/apng',
  'image/avif',
  'image/svg+xml',
] as const;
export type UploadImageType = (typeof UPLOAD_IMAGE_TYPES)[number];

export const isUploadImageType = (mime: string): mime is UploadImageType =>
  (UPLOAD_IMAGE_TYPES as readonly string[]).includes(mime);

/** Upload ids: base64url of the first 18 bytes of the file's SHA-256. */
export const UPLOAD_ID_PATTERN = /^[A-Za-z0-9_-]{24}$/;

export const uploadUrl = (roomId: string, id: string) => `${UPLOADS_PATH}/${roomId}/${id}`;

export const UploadResult = z.object({
  id: z.string().regex(UPLOAD_ID_PATTERN),
  /** where the file is served, relative to the page's origin */
  src: z.string(),
  bytes: z.number().int().nonnegative(),
  mime: z.string(),
  width: z.number().int().nonnegative(),
  height: z.number().int().nonnegative(),
});
export type UploadResult = z.infer<typeof UploadResult>;
