// Issue 9, finding 4: a Yjs client id belongs to the first connection that writes with it in a
// room. Before, a peer that took another client's id could write at that client's next clock: the
// victim's own change at that clock was then skipped by Yjs as already known — acknowledged
// ({ok:true}) yet silently replaced, for good (the state vectors agree, nothing ever heals it).
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, drawShape, recordsOf, until, type AckResult, type Peer } from '../helpers/yclient';

let server: TestServer;
const peers: Peer[] = [];

beforeAll(async () => {
  server = await startServer();
});
afterEach(() => {
  for (const p of peers.splice(0)) p.close();
});
afterAll(async () => {
  await server?.stop();
});

const peer = async (roomId: string, doc?: Y.Doc) => {
  const p = await connectPeer(server.url, roomId, { doc });
  peers.push(p);
  return p;
};

const updateMessage = (update: Uint8Array) => {
  const enc = encoding.createEncoder();
  syncProtocol.writeUpdate(enc, update);
  return encoding.toUint8Array(enc);
};

/** An update written with `clientID` at its next clock, on top of `state`. */
function forgedUpdate(state: Uint8Array, clientID: number, write: (records: Y.Map<unknown>) => void): Uint8Array {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, state);
  // Set after applying: Yjs gives a doc a fresh id when a remote update touches its own.
  doc.clientID = clientID;
  const base = Y.encodeStateVector(doc);
  write(doc.getMap('tl_records'));
  return Y.encodeStateAsUpdate(doc, base);
}

const send = (p: Peer, update: Uint8Array) =>
  p.socket.timeout(5000).emitWithAck('y:sync', { roomId: p.roomId, data: updateMessage(update) }) as Promise<AckResult>;

describe('Yjs client ids are bound to the connection that writes with them (finding 4)', () => {
  it("a peer cannot write with another client's id: refused, and the victim's next change is kept", async () => {
    const roomId = await createRoom(server.url);
    const victim = await peer(roomId);
    victim.records.set('shape:draw1', drawShape(1));
    await victim.acked();
    const attacker = await peer(roomId);
    const watcher = await peer(roomId);

    // The attacker pre-empts the victim's next clock.
    const forged = forgedUpdate(Y.encodeStateAsUpdate(attacker.doc), victim.doc.clientID, (m) => m.set('shape:draw666', drawShape(666)));
    const ack = await send(attacker, forged);
    expect(ack).toMatchObject({ ok: false, error: { code: 'invalid-message' } });
    expect(ack.error!.message).toMatch(new RegExp(`client id ${victim.doc.clientID}.*another connection`));

    // The victim's change at that very clock is accepted and reaches everyone.
    victim.records.set('shape:draw2', drawShape(2));
    await victim.acked();
    expect(victim.nacks).toEqual([]);
    await until(() => watcher.records.has('shape:draw2'), 3000, 'the watcher gets the victim change');
    expect(watcher.records.has('shape:draw666')).toBe(false);
    const newcomer = await peer(roomId);
    expect(recordsOf(newcomer.records)).toEqual(recordsOf(victim.records));
    expect(newcomer.records.has('shape:draw2')).toBe(true);
    expect(newcomer.records.has('shape:draw666')).toBe(false);
  });

  it('an id one connection wrote with cannot be continued by another; an id nobody uses is fine', async () => {
    const roomId = await createRoom(server.url);
    const a = await peer(roomId);
    a.records.set('shape:draw1', drawShape(1));
    await a.acked();
    const b = await peer(roomId);
    const taken = forgedUpdate(Y.encodeStateAsUpdate(b.doc), a.doc.clientID, (m) => m.set('shape:draw3', drawShape(3)));
    expect(await send(b, taken)).toMatchObject({ ok: false, error: { code: 'invalid-message' } });
    const fresh = forgedUpdate(Y.encodeStateAsUpdate(b.doc), 123456789, (m) => m.set('shape:draw4', drawShape(4)));
    expect(await send(b, fresh)).toEqual({ ok: true });
    // now it is b's: a third connection cannot continue it
    const c = await peer(roomId);
    await until(() => c.records.has('shape:draw4'), 3000, 'c synced');
    const cont = forgedUpdate(Y.encodeStateAsUpdate(c.doc), 123456789, (m) => m.set('shape:draw5', drawShape(5)));
    expect(await send(c, cont)).toMatchObject({ ok: false, error: { code: 'invalid-message' } });
    expect(c.records.has('shape:draw5')).toBe(false);
    // refusals an honest client can meet (its old connection not timed out yet) are no violations
    expect(b.socket.connected && c.socket.connected).toBe(true);
  });

  it('a reconnecting client (new socket, same Y.Doc) keeps writing once its old connection is gone', async () => {
    const roomId = await createRoom(server.url);
    const a = await peer(roomId);
    const b = await peer(roomId);
    a.records.set('shape:draw1', drawShape(1));
    await a.acked();
    a.disconnect();
    // offline edit, sent by the state-vector exchange of the next join on a new socket
    a.records.set('shape:draw2', drawShape(2));
    await a.reconnect();
    await a.acked();
    a.records.set('shape:draw3', drawShape(3));
    await a.acked();
    expect(a.nacks).toEqual([]);
    await until(() => b.records.has('shape:draw2') && b.records.has('shape:draw3'), 3000, 'b gets both');
    // once a has left, its id is free again: a new connection continuing it may write
    const id = a.doc.clientID;
    a.close();
    peers.splice(peers.indexOf(a), 1);
    const c = await peer(roomId);
    await until(() => c.records.has('shape:draw3'), 3000, 'c synced');
    const cont = forgedUpdate(Y.encodeStateAsUpdate(c.doc), id, (m) => m.set('shape:draw4', drawShape(4)));
    expect(await send(c, cont)).toEqual({ ok: true });
    await until(() => b.records.has('shape:draw4'), 3000, 'b gets it');
  });
});
