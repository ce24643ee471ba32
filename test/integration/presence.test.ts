// Presence (y-protocols awareness) through the server: peers see each other's state, newcomers get
// everyone's state on join, a client that goes away disappears for the others within 5 s, and
// nobody can speak for someone else's awareness client id or send invalid presence.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import * as encoding from 'lib0/encoding';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_AWARENESS_STATE_BYTES } from '../../lib/protocol/limits';
import { ROOT, startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, roomToken, until, type AckResult, type Peer } from '../helpers/yclient';

let server: TestServer;
const peers: Peer[] = [];
const peer = async (roomId: string, name: string) => {
  const p = await connectPeer(server.url, roomId, { user: { name, color: '#aa3300' } });
  peers.push(p);
  return p;
};
const children: ChildProcess[] = [];
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
  p.socket.timeout(5000).emitWithAck('y:awareness', { roomId: p.roomId, data: awarenessUpdate(entries) }) as Promise<
    AckResult & { dropped?: number[] }
  >;
const names = (p: Peer) =>
  [...p.awareness.getStates().entries()]
    .filter(([id]) => id !== p.doc.clientID)
    .map(([, s]) => (s as { user?: { name: string } }).user?.name)
    .sort();

beforeAll(async () => {
  server = await startServer();
});
afterEach(() => {
  for (const p of peers.splice(0)) p.close();
  for (const c of children.splice(0)) c.kill('SIGKILL');
});
afterAll(async () => {
  await server?.stop();
});

describe('presence', () => {
  it('peers see each other; a newcomer gets everyone at once; cursor moves propagate', async () => {
    const roomId = await createRoom(server.url);
    const a = await peer(roomId, 'Ada');
    const b = await peer(roomId, 'Bob');
    await until(() => names(b).join() === 'Ada' && names(a).join() === 'Bob', 2000, 'a and b see each other');
    const c = await peer(roomId, 'Cy');
    await until(() => names(c).join() === 'Ada,Bob', 2000, 'newcomer sees both');
    a.awareness.setLocalStateField('cursor', { x: 10, y: 20 });
    await until(
      () => (b.awareness.getStates().get(a.doc.clientID) as { cursor?: { x: number } })?.cursor?.x === 10,
      2000,
      'b sees a cursor',
    );
  });

  it('a disconnected client disappears for the others within 5 s', async () => {
    const roomId = await createRoom(server.url);
    const a = await peer(roomId, 'Ada');
    const b = await peer(roomId, 'Bob');
    await until(() => names(b).includes('Ada'), 2000, 'b sees a');
    const t0 = Date.now();
    a.disconnect();
    await until(() => !names(b).includes('Ada'), 5000, 'a gone for b');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a transport that closes without a socket.io disconnect disappears within 5 s', async () => {
    const roomId = await createRoom(server.url);
    const a = await peer(roomId, 'Ada');
    const b = await peer(roomId, 'Bob');
    await until(() => names(b).includes('Ada'), 2000, 'b sees a');
    // Close the transport under socket.io: no disconnect packet reaches the server.
    a.socket.io.engine.close();
    await until(() => !names(b).includes('Ada'), 5000, 'a gone for b');
  });

  it('leaving the room (while staying connected) removes the cursor too', async () => {
    const roomId = await createRoom(server.url);
    const a = await peer(roomId, 'Ada');
    const b = await peer(roomId, 'Bob');
    await until(() => names(b).includes('Ada'), 2000, 'b sees a');
    expect(await a.socket.emitWithAck('room:leave', { roomId })).toEqual({ ok: true });
    await until(() => !names(b).includes('Ada'), 5000, 'a gone for b');
    expect(a.socket.connected).toBe(true);
  });

  it('a peer whose process freezes (no FIN, no pongs) disappears for the others within 5 s', async () => {
    const roomId = await createRoom(server.url);
    const b = await peer(roomId, 'Bob');
    const child = spawn(process.execPath, ['--import', 'tsx', join('test', 'helpers', 'peerProcess.ts'), server.url, roomId, 'Frozen', roomToken(roomId)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    await until(() => out.includes('ready'), 20_000, 'peer process joined');
    await until(() => names(b).includes('Frozen'), 2000, 'b sees the peer process');
    const t0 = Date.now();
    child.kill('SIGSTOP');
    await until(() => !names(b).includes('Frozen'), 5000, 'frozen peer gone for b');
    expect(Date.now() - t0).toBeLessThanOrEqual(5000);
  });

  it("nobody can remove or move another connection's cursor: entries for an id owned elsewhere are dropped, with one lc:error", async () => {
    const roomId = await createRoom(server.url);
    const victim = await peer(roomId, 'Victim');
    const watcher = await peer(roomId, 'Watcher');
    const attacker = await peer(roomId, 'Mallory');
    await until(() => names(watcher).join() === 'Mallory,Victim', 2000, 'watcher sees victim and attacker');
    const id = victim.doc.clientID;
    // Removal with a clock no honest update can beat, then a hijacked cursor.
    const removal = await sendAwareness(attacker, [{ clientID: id, clock: 2 ** 31, state: null }]);
    expect(removal).toEqual({ ok: true, dropped: [id] });
    const hijack = await sendAwareness(attacker, [{ clientID: id, clock: 2 ** 31 + 1, state: { user: { name: 'Victim', color: '#000000' }, cursor: { x: 666 } } }]);
    expect(hijack).toEqual({ ok: true, dropped: [id] });
    // The victim is still there, unchanged, for the watcher and for a newcomer…
    const newcomer = await peer(roomId, 'Newcomer');
    await until(() => names(newcomer).join() === 'Mallory,Victim,Watcher', 2000, 'newcomer sees everyone');
    expect(names(watcher)).toContain('Victim');
    expect((watcher.awareness.getStates().get(id) as { cursor?: unknown }).cursor).toBeUndefined();
    // …and keeps working: its next cursor move arrives.
    victim.awareness.setLocalStateField('cursor', { x: 1 });
    await until(() => (watcher.awareness.getStates().get(id) as { cursor?: { x: number } })?.cursor?.x === 1, 2000, 'victim cursor moves');
    // One lc:error per dropped kind of entry, not one per message; never a disconnect.
    const spoofErrors = attacker.errors.filter((e) => e.event === 'y:awareness' && e.message.includes(String(id)));
    expect(spoofErrors).toHaveLength(1);
    expect(spoofErrors[0]!.message).toMatch(/belongs to another connection/);
    expect(attacker.socket.connected).toBe(true);
    // The attacker's own entries in the same message still go through.
    const mixed = await sendAwareness(attacker, [
      { clientID: id, clock: 2 ** 31 + 3, state: null },
      { clientID: attacker.doc.clientID, clock: 1000, state: { user: { name: 'Mallory2', color: '#112233' } } },
    ]);
    expect(mixed.dropped).toEqual([id]);
    await until(() => names(watcher).includes('Mallory2'), 2000, 'attacker renamed itself');
    expect(names(watcher)).toContain('Victim');
  });

  it('after a reconnect the same awareness id is announced again by the new connection', async () => {
    const roomId = await createRoom(server.url);
    const a = await peer(roomId, 'Ada');
    const b = await peer(roomId, 'Bob');
    await until(() => names(b).includes('Ada'), 2000, 'b sees a');
    a.disconnect();
    await until(() => !names(b).includes('Ada'), 5000, 'a gone');
    await a.reconnect();
    await until(() => names(b).includes('Ada'), 2000, 'a back for b');
    a.awareness.setLocalStateField('cursor', { x: 5 });
    await until(() => (b.awareness.getStates().get(a.doc.clientID) as { cursor?: { x: number } })?.cursor?.x === 5, 2000, 'cursor moves');
    expect(a.errors).toEqual([]);
  });

  it('invalid user info and oversized states are dropped (the rest of the room is unaffected)', async () => {
    const roomId = await createRoom(server.url);
    const a = await peer(roomId, 'Ada');
    const watcher = await peer(roomId, 'Watcher');
    await until(() => names(watcher).includes('Ada'), 2000, 'watcher sees a');
    const me = a.doc.clientID;
    let clock = 1000;
    const bad: Array<[string, unknown, string]> = [
      ['name too long', { user: { name: 'x'.repeat(41), color: '#aa3300' } }, 'invalid-message'],
      ['colour not #rrggbb', { user: { name: 'Eve', color: 'red' } }, 'invalid-message'],
      ['user not an object', { user: 'Eve' }, 'invalid-message'],
      ['state over the size cap', { user: { name: 'Big', color: '#aa3300' }, blob: 'x'.repeat(MAX_AWARENESS_STATE_BYTES) }, 'too-large'],
    ];
    for (const [what, state, code] of bad) {
      const res = await sendAwareness(a, [{ clientID: me, clock: clock++, state }]);
      expect(res, what).toEqual({ ok: true, dropped: [me] });
      expect(a.errors.some((e) => e.code === code && e.event === 'y:awareness'), what).toBe(true);
    }
    expect(names(watcher)).toEqual(['Ada']);
    expect(a.socket.connected).toBe(true);
    // A valid state (no user field at all is valid too) still goes through.
    expect(await sendAwareness(a, [{ clientID: me, clock: clock++, state: { user: { name: 'Ada L.', color: '#AA3300' } } }])).toEqual({ ok: true });
    await until(() => names(watcher).join() === 'Ada L.', 2000, 'valid rename arrives');
  });
});
