// Issue 9, finding 6 (limits per client address), against the real server process with real
// sockets. The per-socket budgets multiply with the number of sockets, and one script can open
// hundreds: now one address holds at most MAX_SOCKETS_PER_ADDRESS connections (concurrent
// handshakes included), and what all of them send shares one byte budget (ADDRESS_BYTES_*).
// Another address (127.0.0.2: all of 127/8 is loopback) is unaffected by either.
import { io, type Socket } from 'socket.io-client';
import * as encoding from 'lib0/encoding';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EV } from '../../lib/protocol/events';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, until, type AckResult, type Peer } from '../helpers/yclient';

const SOCKETS = 4;
const BURST = 256 * 1024;
let server: TestServer;
const open: Array<{ close(): void }> = [];

beforeAll(async () => {
  server = await startServer({
    env: { MAX_SOCKETS_PER_ADDRESS: String(SOCKETS), ADDRESS_BYTES_PER_SECOND: '16384', ADDRESS_BYTES_BURST: String(BURST) },
  });
});
afterEach(async () => {
  for (const s of open.splice(0)) s.close();
  // the server sees the closes before the next test counts connections again
  await new Promise((r) => setTimeout(r, 200));
});
afterAll(async () => {
  await server?.stop();
});

/** A bare Socket.IO connection: resolves with the socket once connected, or with the error. */
function connect(localAddress = '127.0.0.1'): Promise<{ socket: Socket; error?: string }> {
  const socket = io(server.url, { transports: ['websocket'], forceNew: true, reconnection: false, localAddress } as Parameters<typeof io>[1]);
  open.push(socket);
  return new Promise((resolve) => {
    socket.once('connect', () => resolve({ socket }));
    socket.once('connect_error', (e: Error) => resolve({ socket, error: e.message }));
  });
}

describe('limits per client address', () => {
  it(`an address holds at most ${SOCKETS} connections, concurrent handshakes included; another address is unaffected`, async () => {
    const first = await Promise.all(Array.from({ length: 10 }, () => connect()));
    expect(first.filter((c) => !c.error)).toHaveLength(SOCKETS);
    expect(first.filter((c) => c.error)).toHaveLength(10 - SOCKETS);
    expect((await connect()).error).toBeDefined();
    expect((await connect('127.0.0.2')).error).toBeUndefined();
    // a closed connection frees its place
    first.find((c) => !c.error)!.socket.close();
    await until(async () => !(await connect()).error, 3000, 'a new connection once one closed');
  });

  it('what all sockets of an address send shares one byte budget; another address keeps its own', async () => {
    const roomId = await createRoom(server.url);
    const peer = async (localAddress: string) => {
      const p = await connectPeer(server.url, roomId, { localAddress, user: { name: localAddress, color: '#336699' } });
      open.push(p);
      return p;
    };
    const mine = await Promise.all([peer('127.0.0.1'), peer('127.0.0.1'), peer('127.0.0.1')]);
    const other = await peer('127.0.0.2');
    // 40 KB presence updates (the per-socket burst is 8 MB: only the address budget can refuse them)
    const send = (p: Peer, i: number) => {
      const enc = encoding.createEncoder();
      encoding.writeVarUint(enc, 1);
      encoding.writeVarUint(enc, p.doc.clientID);
      encoding.writeVarUint(enc, 1000 + i);
      encoding.writeVarString(enc, JSON.stringify({ user: { name: 'x', color: '#336699' }, pad: 'x'.repeat(40 * 1024) }));
      return p.socket.timeout(5000).emitWithAck(EV.yAwareness, { roomId, data: encoding.toUint8Array(enc) }) as Promise<AckResult>;
    };
    // 3 sockets × 4 = 12 × 40 KB = 480 KB from one address, within a second: over its 256 KB burst
    const acks = await Promise.all(mine.flatMap((p, k) => Array.from({ length: 4 }, (_, i) => send(p, k * 4 + i))));
    const refused = acks.filter((a) => !a.ok);
    expect(refused.length).toBeGreaterThanOrEqual(4);
    expect(refused[0]!.error!.code).toBe('rate-limited');
    expect(refused[0]!.error!.message).toMatch(/from your address/);
    expect(acks.filter((a) => a.ok).length).toBeGreaterThanOrEqual(4);
    // the other address sends the same at once, untouched
    const theirs = await Promise.all(Array.from({ length: 4 }, (_, i) => send(other, i)));
    expect(theirs.every((a) => a.ok)).toBe(true);
    // no socket was disconnected for it (presence over a budget is never a violation)
    expect([...mine, other].every((p) => p.socket.connected)).toBe(true);
  });
});
