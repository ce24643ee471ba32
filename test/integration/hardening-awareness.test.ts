// Issue 9, finding 6 (awareness ids per socket), against the real server process with real
// sockets. Before, one socket could announce 128 awareness client ids with ~60 KB states each: the
// server kept them all, and every newcomer was sent ~7.9 MB of presence and saw 128 fake
// participants. Now a socket speaks for at most MAX_AWARENESS_IDS_PER_SOCKET ids per room: entries
// for further ids are dropped (the rest of the update is applied), with one lc:error per socket
// (never a violation: the socket stays connected).
import * as encoding from 'lib0/encoding';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EV } from '../../lib/protocol/events';
import { MAX_AWARENESS_IDS_PER_SOCKET } from '../../lib/protocol/limits';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, until, type AckResult, type Peer } from '../helpers/yclient';

let server: TestServer;
const peers: Peer[] = [];

beforeAll(async () => {
  // The incoming byte budget is raised so that what stops the attack here is the id limit, not the
  // budget (with the default 8 MB burst the attack below fits as well, just barely).
  server = await startServer({ env: { RATE_BYTES_BURST: String(32 * 1024 * 1024) } });
});
afterEach(() => {
  for (const p of peers.splice(0)) p.close();
});
afterAll(async () => {
  await server?.stop();
});

const peer = async (roomId: string, name: string) => {
  const p = await connectPeer(server.url, roomId, { user: { name, color: '#aa3300' } });
  peers.push(p);
  return p;
};

/** A y-protocols awareness update with exactly these entries (what a hostile client can send). */
const awarenessUpdate = (entries: Array<{ clientID: number; clock: number; state: unknown }>) => {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, entries.length);
  for (const e of entries) {
    encoding.writeVarUint(enc, e.clientID);
    encoding.writeVarUint(enc, e.clock);
    encoding.writeVarString(enc, JSON.stringify(e.state));
  }
  return encoding.toUint8Array(enc);
};
const sendAwareness = (p: Peer, entries: Parameters<typeof awarenessUpdate>[0]) =>
  p.socket.timeout(10_000).emitWithAck(EV.yAwareness, { roomId: p.roomId, data: awarenessUpdate(entries) }) as Promise<
    AckResult & { dropped?: number[] }
  >;

const STATE_BYTES = 60 * 1024;
const fakeState = (i: number) => ({ user: { name: `ghost${i}`, color: '#aa33cc' }, cursor: { x: i, y: i }, pad: 'x'.repeat(STATE_BYTES - 120) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('awareness ids per socket', () => {
  it(`a socket speaks for at most ${MAX_AWARENESS_IDS_PER_SOCKET} awareness ids: a newcomer sees no more of them and gets far less than 7.9 MB`, async () => {
    const roomId = await createRoom(server.url);
    const attacker = await peer(roomId, 'Mallory');
    const watcher = await peer(roomId, 'Watcher');
    await until(() => [...watcher.awareness.getStates().keys()].includes(attacker.doc.clientID), 2000, 'watcher sees the attacker');

    // 128 fake participants with ~60 KB states each, 30 to a message (under the 2 MB message limit)
    const fakeIds = Array.from({ length: 128 }, (_, i) => 1_000_000 + i);
    const acks = [];
    for (let k = 0; k < fakeIds.length; k += 30) {
      acks.push(await sendAwareness(attacker, fakeIds.slice(k, k + 30).map((clientID, j) => ({ clientID, clock: 1, state: fakeState(k + j) }))));
    }
    expect(acks.every((a) => a.ok)).toBe(true);

    // A newcomer joining now gets everyone's presence: count the bytes and the attacker's ids.
    const newcomer = await connectPeer(server.url, roomId, { user: { name: 'Newcomer', color: '#00aa00' }, waitSync: false });
    peers.push(newcomer);
    let presenceBytes = 0;
    newcomer.socket.on(EV.yAwareness, (m: { data: ArrayBuffer | Uint8Array }) => (presenceBytes += m.data.byteLength));
    await newcomer.synced();
    await until(() => newcomer.awareness.getStates().has(watcher.doc.clientID), 5000, 'newcomer got the presence');
    await sleep(1000);
    const attackerIds = new Set([attacker.doc.clientID, ...fakeIds]);
    const seen = [...newcomer.awareness.getStates().keys()].filter((id) => attackerIds.has(id));
    expect(seen.length).toBeLessThanOrEqual(MAX_AWARENESS_IDS_PER_SOCKET);
    expect(seen).toContain(attacker.doc.clientID); // its own presence is one of them
    expect(presenceBytes).toBeLessThan((MAX_AWARENESS_IDS_PER_SOCKET + 2) * STATE_BYTES);
    expect([...watcher.awareness.getStates().keys()].filter((id) => attackerIds.has(id)).length).toBeLessThanOrEqual(MAX_AWARENESS_IDS_PER_SOCKET);

    // One lc:error for all of it, never a violation: the attacker stays connected.
    const idErrors = attacker.errors.filter((e) => e.event === EV.yAwareness);
    expect(idErrors).toHaveLength(1);
    expect(['too-large', 'invalid-message']).toContain(idErrors[0]!.code);
    expect(idErrors[0]!.message).toMatch(/MAX_AWARENESS_IDS_PER_SOCKET/);
    expect(attacker.socket.connected).toBe(true);

    // The rest of an update is applied: an update of an id it speaks for goes through, a further
    // new id in the same message is dropped (without another error).
    const accepted = seen.find((id) => id !== attacker.doc.clientID)!;
    const mixed = await sendAwareness(attacker, [
      { clientID: accepted, clock: 2, state: { user: { name: 'Renamed', color: '#112233' } } },
      { clientID: 2_000_000, clock: 1, state: { user: { name: 'OneMore', color: '#112233' } } },
    ]);
    expect(mixed.ok).toBe(true);
    await until(() => (watcher.awareness.getStates().get(accepted) as { user?: { name: string } })?.user?.name === 'Renamed', 2000, 'update of an owned id applied');
    expect(watcher.awareness.getStates().has(2_000_000)).toBe(false);
    expect(attacker.errors.filter((e) => e.event === EV.yAwareness)).toHaveLength(1);

    // An id given up frees its place: removing one lets another be announced.
    await sendAwareness(attacker, [
      { clientID: accepted, clock: 3, state: null },
      { clientID: 3_000_000, clock: 1, state: { user: { name: 'Replacement', color: '#112233' } } },
    ]);
    await until(() => watcher.awareness.getStates().has(3_000_000) && !watcher.awareness.getStates().has(accepted), 2000, 'freed id replaced');

    // Another socket has its own allowance, and honest peers are unaffected.
    const other = await peer(roomId, 'Other');
    await until(() => watcher.awareness.getStates().has(other.doc.clientID), 2000, 'a further peer is seen');
    expect(other.errors).toEqual([]);
    expect(watcher.errors).toEqual([]);
  });
});
