// The attacks of bench/abuse.ts (issue 9, findings 1 and 6), each bounded in count and time and
// each in fresh rooms. `prepare` builds what the attack needs before the baseline is measured (a
// big room, live frames) and returns the attack itself plus a teardown run after the RSS settled.
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { liveFrameRecord } from '../lib/canvas/liveFrame';
import { EV, type RenderResult } from '../lib/protocol/events';
import { createRoom, drawShape, roomToken } from '../test/helpers/yclient';
import { ask, openSocket, RoomPeer, sleep, type AckResult } from './abuse-peer';
import { sketches } from './sketches';

export interface AttackContext {
  url: string;
  port: number;
  dataDir: string;
  say: (...a: unknown[]) => void;
}

export interface PreparedAttack {
  /** runs the attack to its end (attackers disconnected); returns its own figures */
  run(): Promise<Record<string, unknown>>;
  /** closes what prepare opened (after the RSS after the attack was read) */
  teardown(): void;
}

export type Attack = (ctx: AttackContext) => Promise<PreparedAttack>;

export const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
export const mb = (bytes: number) => round(bytes / 1048576, 2);

/** count[key]++ */
export function tally(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

export const outcomeOf = (a: AckResult) => (a.ok ? String(a.outcome ?? 'ok') : (a.error?.code ?? 'refused'));

/** Keep the first few distinct refusal messages (one per error code). */
export function noteRefusal(into: string[], a: AckResult): void {
  if (a.ok || !a.error || into.length >= 4) return;
  const line = `${a.error.code}: ${a.error.message}`.slice(0, 240);
  if (!into.some((l) => l.startsWith(`${a.error!.code}:`))) into.push(line);
}

// ───── 1. step 1 amplification ─────

/** A y-protocols sync step 1 with the state vector of an empty document: 3 bytes that ask for
 * the whole document. */
function emptyStep1(): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, syncProtocol.messageYjsSyncStep1);
  encoding.writeVarUint8Array(enc, Y.encodeStateVector(new Y.Doc()));
  return encoding.toUint8Array(enc);
}

/** Fill `peer`'s room with draw shapes until its encoded document reaches `targetBytes`, in
 * acknowledged updates of ~1.5 MB (under the 2 MB message limit), paced under the byte budget. */
async function buildBigRoom(peer: RoomPeer, targetBytes: number): Promise<number> {
  const points = 200;
  const perRecord = JSON.stringify(drawShape(0, points)).length;
  const perChunk = Math.floor((1.5 * 1048576) / perRecord);
  const started = Date.now();
  let sent = 0;
  let i = 0;
  let size = 0;
  while (size < targetBytes) {
    // stay inside the socket's byte bucket (8 MB burst, 2 MB/s refill)
    const allowed = () => 7 * 1048576 + ((Date.now() - started) / 1000) * 2 * 1048576;
    while (sent + perChunk * perRecord > allowed()) await sleep(200);
    peer.doc.transact(() => {
      for (let k = 0; k < perChunk; k++, i++) peer.records.set(`shape:draw${i}`, drawShape(i, points));
    });
    sent += perChunk * perRecord;
    await peer.acked();
    if (peer.nacks.length > 0) throw new Error(`building the big room: update refused: ${JSON.stringify(peer.nacks[0])}`);
    size = Y.encodeStateAsUpdate(peer.doc).byteLength;
  }
  return size;
}

export const step1Attack =
  (opts: { docMb: number; messages: number; pauseMs: number }): Attack =>
  async (ctx) => {
    const roomId = await createRoom(ctx.url);
    const owner = await RoomPeer.join(ctx.url, roomId, { name: 'owner', token: roomToken(roomId) });
    ctx.say(`  building a ${opts.docMb} MB room…`);
    const docBytes = await buildBigRoom(owner, opts.docMb * 1048576);
    const run = async () => {
      // the attacker holds an edit link of the room (a view link allows the same step 1s)
      const attacker = await openSocket(ctx.url, { token: roomToken(roomId) });
      let syncMessages = 0;
      attacker.socket.on(EV.ySync, () => syncMessages++);
      const join = await ask(attacker.socket, EV.roomJoin, { roomId, user: { name: 'attacker', color: '#cc0000' } });
      if (!join.ok) throw new Error(`attacker join refused: ${JSON.stringify(join.error)}`);
      await sleep(300); // the server's own step 1 and presence after the join
      const atPause = { bytes: attacker.receivedBytes(), sync: syncMessages };
      attacker.pauseReading();
      const step1 = emptyStep1();
      for (let k = 0; k < opts.messages; k++) attacker.socket.emit(EV.ySync, { roomId, data: step1 });
      // Not reading: the server's heartbeat (ping every 2 s, 2 s timeout) may drop the socket.
      await sleep(opts.pauseMs);
      attacker.resumeReading();
      // then drain whatever still comes, until the connection closes or 2 s of silence (≤ 20 s)
      const drainUntil = Date.now() + 20_000;
      let last = attacker.receivedBytes();
      let quietSince = Date.now();
      while (!attacker.closed() && Date.now() < drainUntil && Date.now() - quietSince < 2_000) {
        await sleep(100);
        if (attacker.receivedBytes() !== last) {
          last = attacker.receivedBytes();
          quietSince = Date.now();
        }
      }
      const closedByServer = attacker.closed();
      const closeReason = attacker.closedBy();
      attacker.close();
      return {
        doc_mb: mb(docBytes),
        step1_messages: opts.messages,
        step1_bytes_sent: opts.messages * step1.byteLength,
        paused_reading_s: opts.pauseMs / 1000,
        attacker_received_mb: mb(attacker.receivedBytes() - atPause.bytes),
        attacker_step2_replies: syncMessages - atPause.sync,
        attacker_dropped_by_server: closedByServer,
        ...(closedByServer && { attacker_close_reason: closeReason }),
      };
    };
    return { run, teardown: () => owner.close() };
  };

// ───── 2. render history growth ─────

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export const historyAttack =
  (opts: { rooms: number; frames: number; size: number; rounds: number; waitS: number }): Attack =>
  async (ctx) => {
    const images = await sketches(opts.size, 16, { circle: 8, line: 6 });
    const frameIds = Array.from({ length: opts.frames }, (_, j) => `shape:live${j}`);
    const drawers: RoomPeer[] = [];
    for (let r = 0; r < opts.rooms; r++) {
      const roomId = await createRoom(ctx.url);
      const peer = await RoomPeer.join(ctx.url, roomId, { name: `drawer${r}`, token: roomToken(roomId) });
      drawers.push(peer);
      peer.doc.transact(() => {
        frameIds.forEach((id, j) => {
          const props = { w: opts.size, h: opts.size, outputSize: opts.size, steps: 1, prompt: `frame ${j}`, seed: j };
          peer.records.set(id, liveFrameRecord(id, props, { x: (j % 8) * 1100, y: Math.floor(j / 8) * 1100, index: `a${BASE62[j + 1]}` }));
        });
      });
      await peer.acked();
      if (peer.nacks.length > 0) throw new Error(`live frames refused: ${JSON.stringify(peer.nacks[0])}`);
    }
    const run = async () => {
      const outcomes: Record<string, number> = {};
      const refusals: string[] = [];
      /** per room and frame: the newest seq the server took for rendering, and the newest rendered */
      const wanted = new Map<string, number>();
      const rendered = new Map<string, number>();
      let renders = 0;
      let renderBytes = 0;
      let lastRenderAt = 0;
      for (const d of drawers) {
        d.socket.on(EV.render, (r: RenderResult) => {
          renders++;
          renderBytes += (r.image as ArrayBuffer | Uint8Array).byteLength;
          lastRenderAt = Date.now();
          const key = `${d.roomId}/${r.frameId}`;
          rendered.set(key, Math.max(rendered.get(key) ?? 0, r.seq));
        });
      }
      let seq = Date.now();
      const acks: Promise<void>[] = [];
      // Each drawer sends 25 snapshots/s (the server's per-socket limit is 40/s), all in parallel.
      await Promise.all(
        drawers.map(async (d, r) => {
          for (let round = 0; round < opts.rounds; round++) {
            for (let j = 0; j < opts.frames; j++) {
              const frameId = frameIds[j]!;
              const s = ++seq;
              const image = images[(j + round * 7 + r) % images.length];
              const payload = { roomId: d.roomId, frameId, seq: s, hash: `h${r}-${j}-${round}`, mime: 'image/jpeg', image, sentAt: Date.now() };
              acks.push(
                ask(d.socket, EV.snapshot, payload, 30_000).then((a) => {
                  tally(outcomes, outcomeOf(a));
                  noteRefusal(refusals, a);
                  if (a.ok && (a.outcome === 'accepted' || a.outcome === 'replaced')) {
                    const key = `${d.roomId}/${frameId}`;
                    wanted.set(key, Math.max(wanted.get(key) ?? 0, s));
                  }
                }),
              );
              await sleep(40);
            }
          }
        }),
      );
      await Promise.all(acks);
      const sentAt = Date.now();
      // until every frame's newest accepted snapshot is rendered, 10 s without a render, or waitS
      const allDone = () => [...wanted].every(([k, s]) => (rendered.get(k) ?? 0) >= s);
      while (!allDone() && Date.now() - sentAt < opts.waitS * 1000 && Date.now() - Math.max(lastRenderAt, sentAt) < 10_000) {
        await sleep(100);
      }
      const waited = (Date.now() - sentAt) / 1000;
      for (const d of drawers) d.close();
      return {
        rooms: opts.rooms,
        frames_per_room: opts.frames,
        output_size: opts.size,
        snapshots_sent: opts.rooms * opts.frames * opts.rounds,
        snapshot_outcomes: outcomes,
        snapshot_refusals: refusals,
        renders_received: renders,
        render_mb_received: mb(renderBytes),
        all_rendered: allDone(),
        render_wait_s: round(waited),
      };
    };
    return { run, teardown: () => drawers.forEach((d) => d.close()) };
  };

// ───── 3. awareness ids ─────

/** Awareness clientIDs in y-protocols awareness updates (varUint count, then per entry varUint
 * clientID, varUint clock, varString JSON). */
function awarenessIds(data: Uint8Array, into: Set<number>): void {
  try {
    const dec = decoding.createDecoder(data);
    const n = decoding.readVarUint(dec);
    for (let i = 0; i < n; i++) {
      into.add(decoding.readVarUint(dec));
      decoding.readVarUint(dec);
      decoding.readVarString(dec);
    }
  } catch {
    /* not ours to judge */
  }
}

export const awarenessAttack =
  (opts: { ids: number; stateKb: number; newcomerMs: number }): Attack =>
  async (ctx) => {
    const roomId = await createRoom(ctx.url);
    const run = async () => {
      // the attacker holds an edit link of the room (a view link allows the same awareness)
      const attacker = await openSocket(ctx.url, { token: roomToken(roomId) });
      const join = await ask(attacker.socket, EV.roomJoin, { roomId, user: { name: 'attacker', color: '#cc0000' } });
      if (!join.ok) throw new Error(`attacker join refused: ${JSON.stringify(join.error)}`);
      const pad = 'x'.repeat(opts.stateKb * 1024 - 120);
      const entries = Array.from({ length: opts.ids }, (_, i) => ({
        clientID: 1_000_000 + Math.floor(Math.random() * 2 ** 30),
        json: JSON.stringify({ user: { name: `ghost${i}`, color: '#aa33cc' }, cursor: { x: i, y: i }, pad }),
      }));
      // as few messages as the 2 MB message limit allows
      const perMessage = Math.max(1, Math.floor((1.9 * 1048576) / (opts.stateKb * 1024)));
      const results: Record<string, number> = {};
      let dropped = 0;
      for (let k = 0; k < entries.length; k += perMessage) {
        const chunk = entries.slice(k, k + perMessage);
        const enc = encoding.createEncoder();
        encoding.writeVarUint(enc, chunk.length);
        for (const e of chunk) {
          encoding.writeVarUint(enc, e.clientID);
          encoding.writeVarUint(enc, 1);
          encoding.writeVarString(enc, e.json);
        }
        const a = await ask(attacker.socket, EV.yAwareness, { roomId, data: encoding.toUint8Array(enc) });
        tally(results, outcomeOf(a));
        dropped += a.ok ? ((a.dropped as unknown[] | undefined)?.length ?? 0) : chunk.length;
      }
      await sleep(500);
      const newcomer = await openSocket(ctx.url, { token: roomToken(roomId) });
      const seen = new Set<number>();
      newcomer.socket.on(EV.yAwareness, (m: { data: ArrayBuffer | Uint8Array }) => awarenessIds(new Uint8Array(m.data), seen));
      const before = newcomer.receivedBytes();
      newcomer.socket.emit(EV.roomJoin, { roomId, user: { name: 'newcomer', color: '#00aa00' } });
      await sleep(opts.newcomerMs);
      const received = newcomer.receivedBytes() - before;
      newcomer.close();
      attacker.close();
      return {
        awareness_ids_sent: opts.ids,
        state_kb: opts.stateKb,
        awareness_messages: Math.ceil(entries.length / perMessage),
        awareness_acks: results,
        awareness_ids_accepted: opts.ids - dropped,
        newcomer_received_mb: mb(received),
        newcomer_awareness_ids: seen.size,
        newcomer_window_s: opts.newcomerMs / 1000,
      };
    };
    return { run, teardown: () => {} };
  };
