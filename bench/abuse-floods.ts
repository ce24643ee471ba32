// Flood attacks of bench/abuse.ts: many made-up rooms from one client (joining an id nobody
// created is refused, so none of them may be stored), and many large (some slow) concurrent
// uploads. Both bounded in count and time.
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { request } from 'node:http';
import sharp from 'sharp';
import * as Y from 'yjs';
import { EV } from '../lib/protocol/events';
import { UPLOADS_PATH } from '../lib/protocol/uploads';
import { createRoom, drawShape, randomRoomId, roomToken } from '../test/helpers/yclient';
import { ask, openSocket, RoomPeer, sleep, updateMessage, type AckResult, type BenchSocket } from './abuse-peer';
import { mb, noteRefusal, outcomeOf, round, tally, type Attack } from './abuse-attacks';
import { dataDirMb } from './abuse-server';
import { UPLOAD_SOCKET_HEADER } from '../lib/protocol/uploads';

// ───── 4. room creation flood ─────

// Made-up room ids, as an attacker who wants the server to store many rooms would send them.
// Rooms exist only once created (POST /api/rooms), so every join should be refused (no-such-room)
// before anything is loaded or stored: the figures say how many were refused and how many got in
// (rooms_joined, which should be 0), and the data directory's growth.

export const roomsAttack =
  (opts: { rooms: number; sockets: number; maxS: number }): Attack =>
  async (ctx) => {
    const run = async () => {
      const dataBefore = dataDirMb(ctx.dataDir);
      const started = Date.now();
      const joins: Record<string, number> = {};
      const updates: Record<string, number> = {};
      const errors: string[] = [];
      let attempted = 0;
      let socketsOpened = 0;
      let dropped = 0;
      const note = (a: AckResult) => noteRefusal(errors, a);
      let next = 0;
      // `sockets` workers in parallel from one address, each joining → writing → leaving one room
      // at a time; a worker whose socket the server drops opens a new one (at most 4× sockets).
      const worker = async () => {
        let conn: BenchSocket | null = null;
        while (next < opts.rooms && Date.now() - started < opts.maxS * 1000) {
          if (!conn || conn.closed()) {
            if (conn) dropped++;
            if (socketsOpened >= opts.sockets * 4) break;
            socketsOpened++;
            conn = await openSocket(ctx.url);
          }
          next++;
          attempted++;
          const roomId = randomRoomId();
          const join = await ask(conn.socket, EV.roomJoin, { roomId, user: { name: 'flood', color: '#cc0000' } }, 5_000);
          tally(joins, outcomeOf(join));
          note(join);
          if (!join.ok) continue;
          // a small real change, so the room is stored (joining alone writes nothing)
          const doc = new Y.Doc();
          doc.getMap('tl_records').set('shape:draw0', drawShape(attempted % 1000));
          const up = await ask(conn.socket, EV.ySync, { roomId, data: updateMessage(Y.encodeStateAsUpdate(doc)) }, 5_000);
          doc.destroy();
          tally(updates, outcomeOf(up));
          note(up);
          await ask(conn.socket, EV.roomLeave, { roomId }, 5_000);
        }
        conn?.close();
      };
      await Promise.all(Array.from({ length: opts.sockets }, worker));
      const refused = attempted - (joins.ok ?? 0);
      return {
        rooms_attempted: attempted,
        rooms_joined: joins.ok ?? 0,
        rooms_refused: refused,
        all_refused: attempted > 0 && refused === attempted,
        refused_as: Object.keys(joins).filter((k) => k !== 'ok'),
        joins: joins,
        updates: updates,
        refusals: errors,
        sockets_opened: socketsOpened,
        sockets_dropped_by_server: dropped,
        flood_s: round((Date.now() - started) / 1000),
        data_dir_mb_before: dataBefore,
        data_dir_mb_after: dataDirMb(ctx.dataDir),
      };
    };
    return { run, teardown: () => {} };
  };

// ───── 5. upload flood ─────

/** A valid PNG of random pixels (stored uncompressed) of about `bytes`: distinct every call, so the
 * server's per-room de-duplication cannot help. */
async function noisePng(bytes: number): Promise<Buffer> {
  const side = Math.ceil(Math.sqrt(bytes / 3));
  const raw = randomBytes(side * side * 3);
  return sharp(raw, { raw: { width: side, height: side, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
}

/** What the server wants with an upload besides the bytes: the id of the uploader's socket,
 * joined to the room (UPLOAD_SOCKET_HEADER). */
function uploadHeaders(uploader: RoomPeer): Record<string, string> {
  return { [UPLOAD_SOCKET_HEADER]: uploader.socket.id ?? '' };
}

interface UploadOutcome {
  /** HTTP status, or what happened to the connection */
  result: string;
  message?: string;
  sentBytes: number;
}

/** POST one file; `trickle` sends it in `trickle.chunk` bytes every `trickle.everyMs`. Aborted
 * (result 'aborted-by-bench') when `signal` fires first. */
function upload(
  port: number,
  roomId: string,
  data: Buffer,
  headers: Record<string, string>,
  signal: AbortSignal,
  trickle?: { chunk: number; everyMs: number },
): Promise<UploadOutcome> {
  return new Promise((resolve) => {
    let sent = 0;
    let settled = false;
    const finish = (o: Omit<UploadOutcome, 'sentBytes'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...o, sentBytes: sent });
    };
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: `${UPLOADS_PATH}/${roomId}`,
      headers: { 'content-type': 'image/png', 'content-length': String(data.byteLength), ...headers },
      agent: false,
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body.length < 1000 ? (body += c) : undefined));
      res.on('end', () => {
        let message: string | undefined;
        try {
          message = (JSON.parse(body) as { error?: string }).error;
        } catch {
          /* not JSON */
        }
        finish({ result: String(res.statusCode), message });
        req.destroy();
      });
      res.on('error', () => finish({ result: String(res.statusCode) }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => finish({ result: signal.aborted ? 'aborted-by-bench' : `closed-by-server (${e.code ?? e.message})` }));
    req.on('close', () => finish({ result: signal.aborted ? 'aborted-by-bench' : 'closed-by-server' }));
    signal.addEventListener('abort', () => req.destroy(), { once: true });
    if (!trickle) {
      sent = data.byteLength;
      req.end(data);
      return;
    }
    const step = () => {
      if (settled || req.destroyed || signal.aborted) return;
      const part = data.subarray(sent, sent + trickle.chunk);
      sent += part.byteLength;
      if (sent >= data.byteLength) req.end(part);
      else req.write(part, () => setTimeout(step, trickle.everyMs));
    };
    step();
  });
}

export const uploadsAttack =
  (opts: { uploads: number; slow: number; mbEach: number; maxS: number }): Attack =>
  async (ctx) => {
    ctx.say(`  generating ${opts.uploads} distinct ${opts.mbEach} MB PNGs…`);
    const files: Buffer[] = [];
    for (let i = 0; i < opts.uploads; i++) files.push(await noisePng(opts.mbEach * 1048576));
    const roomId = await createRoom(ctx.url);
    const uploader = await RoomPeer.join(ctx.url, roomId, { name: 'uploader', token: roomToken(roomId) });
    // One small honest upload first: should the server ask for something this benchmark does not
    // send, the flood would be refused before its bodies are read and measure nothing.
    const tiny = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).png().toBuffer();
    const check = await upload(ctx.port, roomId, tiny, uploadHeaders(uploader), new AbortController().signal);
    if (check.result !== '201') {
      uploader.close();
      throw new Error(`a small upload by a joined client was refused (${check.result}: ${check.message ?? ''}); bench/abuse-floods.ts uploadHeaders() must send what server/uploads now requires`);
    }
    const run = async () => {
      const dataBefore = dataDirMb(ctx.dataDir);
      const started = Date.now();
      const abort = new AbortController();
      setMaxListeners(files.length + 10, abort.signal); // one listener per upload
      const timer = setTimeout(() => abort.abort(), opts.maxS * 1000);
      const headers = uploadHeaders(uploader);
      // the slow ones trickle 64 KB every 250 ms (256 KB/s): a 10 MB body would take 40 s
      const outcomes = await Promise.all(
        files.map((f, i) => upload(ctx.port, roomId, f, headers, abort.signal, i < opts.slow ? { chunk: 65536, everyMs: 250 } : undefined)),
      );
      clearTimeout(timer);
      const byResult: Record<string, number> = {};
      const messages: string[] = [];
      for (const o of outcomes) {
        tally(byResult, o.result);
        if (o.message && messages.length < 4 && !messages.includes(o.message)) messages.push(o.message.slice(0, 200));
      }
      uploader.close();
      await sleep(100);
      return {
        uploads: opts.uploads,
        slow_uploads: opts.slow,
        upload_mb_each: mb(files[0]!.byteLength),
        upload_results: byResult,
        upload_messages: messages,
        upload_mb_sent: mb(outcomes.reduce((a, o) => a + o.sentBytes, 0)),
        flood_s: round((Date.now() - started) / 1000),
        data_dir_mb_before: dataBefore,
        data_dir_mb_after: dataDirMb(ctx.dataDir),
      };
    };
    return { run, teardown: () => uploader.close() };
  };
