// tldraw's asset store for a room: a dropped or pasted image is uploaded to the server
// (lib/protocol/uploads.ts) and the shared document only holds its URL. Without this, tldraw
// inlines the file as base64 into the document, and a photo makes an update the server refuses.
// The server takes uploads only from people in the room: each request names the page's socket,
// joined to the room. At most UPLOAD_CLIENT_CONCURRENCY files go up at once (dropping ten images
// queues the rest), which keeps a page under the server's per-address limit; a 429 is retried
// after its Retry-After.
import type { TLAssetStore } from 'tldraw';
import { UPLOAD_CLIENT_CONCURRENCY } from '../protocol/limits';
import { UploadResult, UPLOAD_SOCKET_HEADER, UPLOADS_PATH } from '../protocol/uploads';

export interface UploadAssetStoreOptions {
  /** an upload failed; tldraw only shows "upload failed", this gets the server's reason */
  onError?: (message: string) => void;
  /** defaults to the page's fetch */
  fetch?: typeof fetch;
  /** the id of this page's Socket.IO socket (joined to the room) when the upload starts */
  socketId?: () => string | undefined;
}

/** Retries of an upload the server turned away as busy (429). */
const BUSY_RETRIES = 3;

export function createUploadAssetStore(roomId: string, opts: UploadAssetStoreOptions = {}): TLAssetStore {
  const queue = limiter(UPLOAD_CLIENT_CONCURRENCY);
  const send = async (file: File, abortSignal: AbortSignal | undefined) => {
    const doFetch = opts.fetch ?? fetch;
    for (let attempt = 0; ; attempt++) {
      const socketId = opts.socketId?.();
      const res = await doFetch(`${UPLOADS_PATH}/${encodeURIComponent(roomId)}`, {
        method: 'POST',
        body: file,
        headers: { 'content-type': file.type, ...(socketId && { [UPLOAD_SOCKET_HEADER]: socketId }) },
        signal: abortSignal,
      });
      const body: unknown = await res.json().catch(() => null);
      if (res.status === 429 && attempt < BUSY_RETRIES) {
        const wait = Math.min(30, Math.max(1, Number(res.headers.get('retry-after')) || 2));
        await sleep(wait * 1000, abortSignal);
        continue;
      }
      if (!res.ok) {
        const reason = (body as { error?: unknown } | null)?.error;
        throw new Error(typeof reason === 'string' ? reason : `the server answered ${res.status}`);
      }
      return { src: UploadResult.parse(body).src };
    }
  };
  return {
    async upload(_asset, file, abortSignal) {
      try {
        return await queue(() => send(file, abortSignal));
      } catch (e) {
        if (!abortSignal?.aborted) opts.onError?.(`Could not upload ${file.name || 'the image'}: ${(e as Error).message}`);
        throw e;
      }
    },
    // Never deleted from the server: the deletion may be undone, and other people's copies or
    // pastes into other rooms may still show the file.
    async remove() {},
  };
}

/** Run at most `n` of the given tasks at once, the others in order as slots free up. */
function limiter(n: number) {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    // A finished task hands its slot to the next waiting one directly.
    if (running >= n) await new Promise<void>((r) => waiting.push(r));
    else running++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}

const sleep = (ms: number, signal: AbortSignal | undefined) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
  });
