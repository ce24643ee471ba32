// The render loop's HTTP routes: pinned assets (/api/assets/:roomId/:assetId.jpg), a frame's kept
// renders (/api/renders/:roomId/:frameId[/:seq.jpg]) and a room's queue counters
// (/api/renders/:roomId). Bodies follow the schemas of lib/protocol/http.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RENDER_HISTORY_LENGTH, type FrameRenderList, type RoomRenderStats } from '../../lib/protocol';
import type { ReadAuthorizer } from '../auth/accessRoutes';
import { sendJson } from '../http/sendJson';
import type { PinnedRenders } from './PinnedRenders';
import type { RenderQueue } from './renderState';

export const RENDER_ROUTE_PREFIXES = ['/api/assets/', '/api/renders/'] as const;

const renderUrl = (roomId: string, frameId: string, seq: number) =>
  `/api/renders/${encodeURIComponent(roomId)}/${encodeURIComponent(frameId)}/${seq}.jpg`;

/** Handles /api/assets/… and /api/renders/…; returns false for any other path. */
export function renderRoutes(queue: RenderQueue, pins: PinnedRenders, stats: (roomId: string) => RoomRenderStats, authorize: ReadAuthorizer) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    let parts: string[];
    try {
      parts = new URL(req.url ?? '/', 'http://x').pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      sendJson(res, 400, { error: 'malformed path' });
      return true;
    }
    if (parts[0] !== 'api' || (parts[1] !== 'assets' && parts[1] !== 'renders')) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'only GET' }, { allow: 'GET, HEAD' });
      return true;
    }
    const [, kind, roomId, frameId, file] = parts;
    if (parts.length < 3 || !(await authorize(req, res, roomId))) {
      if (parts.length < 3) sendJson(res, 404, { error: 'unknown render route' });
      return true;
    }
    if (kind === 'assets' && parts.length === 4 && frameId.endsWith('.jpg')) {
      const jpeg = await pins.jpeg(roomId, frameId.slice(0, -4));
      if (!jpeg) sendJson(res, 404, { error: 'no such asset' });
      else sendJpeg(res, jpeg, 'public, max-age=31536000, immutable');
    } else if (kind === 'renders' && parts.length === 3) {
      sendJson(res, 200, stats(roomId));
    } else if (kind === 'renders' && parts.length === 4) {
      const renders = (queue.peek(roomId, frameId)?.data.renders ?? []).map(({ result: r }) => ({
        seq: r.seq,
        url: renderUrl(roomId, frameId, r.seq),
        width: r.width,
        height: r.height,
        seed: r.seed,
        model: r.model,
        renderedAt: r.renderedAt,
      }));
      sendJson(res, 200, { roomId, frameId, renders } satisfies FrameRenderList);
    } else if (kind === 'renders' && parts.length === 5 && /^\d+\.jpg$/.test(file)) {
      const seq = Number(file.slice(0, -4));
      const r = queue.peek(roomId, frameId)?.data.renders.find((k) => k.result.seq === seq);
      if (!r) sendJson(res, 404, { error: `render not kept (only the last ${RENDER_HISTORY_LENGTH} of a frame are)` });
      else sendJpeg(res, r.result.image, 'private, max-age=3600');
    } else {
      sendJson(res, 404, { error: 'unknown render route' });
    }
    return true;
  };
}

function sendJpeg(res: ServerResponse, jpeg: Uint8Array, cacheControl: string) {
  res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': jpeg.byteLength, 'cache-control': cacheControl });
  res.end(jpeg);
}
