// tldraw's asset store for a room: a dropped or pasted image is uploaded to the server
// (lib/protocol/uploads.ts) and the shared document only holds its URL. Without this, tldraw
// inlines the file as base64 into the document, and a photo makes an update the server refuses.
import type { TLAssetStore } from 'tldraw';
import { UploadResult, UPLOADS_PATH } from '../protocol/uploads';

export interface UploadAssetStoreOptions {
  /** an upload failed; tldraw only shows "upload failed", this gets the server's reason */
  onError?: (message: string) => void;
  /** defaults to the page's fetch */
  fetch?: typeof fetch;
}

export function createUploadAssetStore(roomId: string, opts: UploadAssetStoreOptions = {}): TLAssetStore {
  return {
    async upload(_asset, file, abortSignal) {
      const doFetch = opts.fetch ?? fetch;
      try {
        const res = await doFetch(`${UPLOADS_PATH}/${encodeURIComponent(roomId)}`, {
          method: 'POST',
          body: file,
          headers: { 'content-type': file.type },
          signal: abortSignal,
        });
        const body: unknown = await res.json().catch(() => null);
        if (!res.ok) {
          const reason = (body as { error?: unknown } | null)?.error;
          throw new Error(typeof reason === 'string' ? reason : `the server answered ${res.status}`);
        }
        return { src: UploadResult.parse(body).src };
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
