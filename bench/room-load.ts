// Room load benchmark: how long a new client takes to connect and sync a big room, and how much
// server memory an open room costs. Prints JSON lines (`--json`: nothing else).
//
//   npm run bench:load -- [--shapes 2000] [--rooms 10] [--runs 7] [--json]
//
// 1. A peer draws `shapes` tldraw draw-shape records into a room, one acknowledged update each.
// 2. The server is stopped (SIGTERM: the room is compacted) and the room is copied `rooms - 1`
//    times in the database; then the server is started again, cold.
// 3. RSS per open room: the fresh server's RSS (from /proc) before and after one peer joined each
//    of the `rooms` rooms, divided by `rooms`.
// 4. Cold sync: a new peer joins the unloaded room (load from SQLite + sync) and leaves; `runs`×.
//    Warm sync: the same while another peer keeps the room loaded.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import * as Y from 'yjs';
import { SqliteRoomStore } from '../server/store/SqliteRoomStore';
import { startServer, type TestServer } from '../test/helpers/server';
import { connectPeer, createRoom, drawShape, randomRoomId, type Peer } from '../test/helpers/yclient';
import { exitBench, guardBench } from './cleanup';

// Errors and signals stop the servers this script started (it restarts one midway).
guardBench();

const o = new Command()
  .name('bench:load')
  .option('--shapes <n>', 'draw-shape records in the room', '2000')
  .option('--rooms <k>', 'rooms opened at once for the memory figure', '10')
  .option('--runs <n>', 'timed joins per figure', '7')
  .option('--json', 'print JSON lines only')
  .parse()
  .opts();
const SHAPES = Number(o.shapes);
const ROOMS = Number(o.rooms);
const RUNS = Number(o.runs);

const print = (line: Record<string, unknown>, human: string) => {
  console.log(JSON.stringify(line));
  if (!o.json) console.error(`  ${human}`);
};
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const rssMB = (s: TestServer) => {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${s.proc.pid}/status`, 'utf8'))![1]);
  return kb / 1024;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function timedJoin(url: string, roomId: string): Promise<{ ms: number; peer: Peer }> {
  const t0 = performance.now();
  const peer = await connectPeer(url, roomId);
  const ms = performance.now() - t0;
  if (peer.records.size !== SHAPES) throw new Error(`synced ${peer.records.size} records, expected ${SHAPES}`);
  return { ms, peer };
}

// 1. populate (as fast as the server stores; the per-socket rate limit would pace it to 300/s)
const unlimited = { RATE_PER_SECOND: '1000000', RATE_BURST: '1000000' };
let server = await startServer({ env: unlimited });
// a shared room (POST /api/rooms): every timed join below presents its edit link, as a page does
const roomId = await createRoom(server.url);
const writer = await connectPeer(server.url, roomId);
const t0 = performance.now();
for (let i = 0; i < SHAPES; i++) writer.records.set(`shape:draw${i}`, drawShape(i));
await writer.acked();
const populateMs = performance.now() - t0;
if (writer.nacks.length > 0) throw new Error(`updates refused: ${JSON.stringify(writer.nacks[0])}`);
const docJsonBytes = JSON.stringify(writer.records.toJSON()).length;
writer.close();
print(
  { bench: 'room-load', metric: 'populate', shapes: SHAPES, ms: round(populateMs), updatesPerS: round((SHAPES / populateMs) * 1000) },
  `populate: ${SHAPES} acknowledged updates in ${round(populateMs)} ms (${round((SHAPES / populateMs) * 1000)} updates/s)`,
);

// 2. restart cold, with ROOMS copies of the room
await server.stop('SIGTERM');
const store = new SqliteRoomStore(server.dataDir);
const { snapshot, updates } = store.load(roomId);
if (!snapshot || updates.length > 0) throw new Error('the room was not compacted on shutdown');
// copies written straight into the store: open rooms (as from before access control), joined by id
const extraRooms = Array.from({ length: ROOMS }, () => randomRoomId());
for (const id of extraRooms) store.compact(id, snapshot);
store.close();
const check = new Y.Doc();
Y.applyUpdate(check, snapshot);
print(
  { bench: 'room-load', metric: 'snapshot', shapes: SHAPES, snapshotKB: round(snapshot.byteLength / 1024), jsonKB: round(docJsonBytes / 1024) },
  `snapshot: ${round(snapshot.byteLength / 1024)} KB (records as JSON: ${round(docJsonBytes / 1024)} KB)`,
);
server = await startServer({ dataDir: server.dataDir });

// 3. memory per open room, measured first, on the fresh process
await sleep(1000);
const before = rssMB(server);
const open: Peer[] = [];
for (const id of extraRooms) open.push((await timedJoin(server.url, id)).peer);
await sleep(1000);
const after = rssMB(server);
print(
  { bench: 'room-load', metric: 'rss-per-room', shapes: SHAPES, rooms: ROOMS, rssBeforeMB: round(before), rssAfterMB: round(after), perRoomMB: round((after - before) / ROOMS, 2) },
  `server RSS: ${round(before)} MB → ${round(after)} MB with ${ROOMS} rooms open: ${round((after - before) / ROOMS, 2)} MB per room`,
);
for (const p of open) p.close();
await sleep(500);

// 4. cold and warm sync
const cold: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const { ms, peer } = await timedJoin(server.url, roomId);
  cold.push(ms);
  peer.close();
  await sleep(200); // let the room unload
}
print(
  { bench: 'room-load', metric: 'join-sync-cold', shapes: SHAPES, p50Ms: round(p50(cold)), runsMs: cold.map((x) => round(x)) },
  `cold join + sync (room loaded from SQLite): p50 ${round(p50(cold))} ms`,
);
const holder = await connectPeer(server.url, roomId);
const warm: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const { ms, peer } = await timedJoin(server.url, roomId);
  warm.push(ms);
  peer.close();
}
holder.close();
print(
  { bench: 'room-load', metric: 'join-sync-warm', shapes: SHAPES, p50Ms: round(p50(warm)), runsMs: warm.map((x) => round(x)) },
  `warm join + sync (room already open): p50 ${round(p50(warm))} ms`,
);

await server.stop();
await exitBench(0);
