// The browser's Yjs provider (lib/canvas/socketProvider.ts) against the real server, without a
// browser: two providers on socket.io-client in this process, the server in its own. Covers what a
// page cannot easily provoke: the server closing the connection, changes over the message limit,
// and more than 2 MB of offline changes.
import { io, type Socket } from 'socket.io-client';
import * as Y from 'yjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SocketIoProvider, type ConnectionStatus } from '../../lib/canvas/socketProvider';
import { EV, type ErrorEvent } from '../../lib/protocol/events';
import { MAX_YJS_MESSAGE_BYTES } from '../../lib/protocol/limits';
import { startServer, type TestServer } from '../helpers/server';
import { createRoom, roomToken } from '../helpers/yclient';

const MAX_VIOLATIONS = 3;

interface Client {
  socket: Socket;
  doc: Y.Doc;
  provider: SocketIoProvider;
  statuses: ConnectionStatus[];
  errors: ErrorEvent[];
  /** every disconnect reason socket.io reported */
  disconnects: string[];
  map: Y.Map<unknown>;
}

const until = async (fn: () => boolean, what: string, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('socket provider against the real server', () => {
  let server: TestServer;
  const clients: Client[] = [];

  const connect = async (roomId: string): Promise<Client> => {
    // the room's edit link, in the handshake as the page sends it
    const socket = io(server.url, { transports: ['websocket'], reconnectionDelay: 100, reconnectionDelayMax: 500, auth: { token: roomToken(roomId) } });
    const doc = new Y.Doc();
    const provider = new SocketIoProvider(socket, roomId, doc, { reconnectBaseMs: 200 });
    const c: Client = { socket, doc, provider, statuses: [], errors: [], disconnects: [], map: doc.getMap('test') };
    provider.onStatus((s) => c.statuses.push(s));
    provider.onError((e) => c.errors.push(e));
    socket.on('disconnect', (reason) => c.disconnects.push(reason));
    clients.push(c);
    await provider.whenSynced();
    return c;
  };

  beforeAll(async () => {
    server = await startServer({ env: { MAX_VIOLATIONS: String(MAX_VIOLATIONS) } });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) {
      c.provider.destroy();
      c.socket.disconnect();
      c.doc.destroy();
    }
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('reconnects by itself after the server disconnected it, and later edits sync', async () => {
    const roomId = await createRoom(server.url);
    const A = await connect(roomId);
    const B = await connect(roomId);
    A.map.set('before', 1);
    await until(() => B.map.get('before') === 1, 'the first edit in B');

    // Misbehave until the server gives up on this connection.
    for (let i = 0; i < MAX_VIOLATIONS; i++) A.socket.emit(EV.ySync, { roomId, data: 'not bytes' });
    await until(() => A.disconnects.includes('io server disconnect'), 'the server to disconnect A');
    expect(A.statuses).toContain('offline');

    // Edits made meanwhile are kept and arrive after the automatic reconnect.
    A.map.set('while-out', 2);
    expect(A.provider.hasUnsentChanges()).toBe(true);
    await until(() => A.provider.status === 'connected', 'A connected again', 10_000);
    await until(() => B.map.get('while-out') === 2, 'the edit made while disconnected in B');
    A.map.set('after', 3);
    await until(() => B.map.get('after') === 3, 'a later edit in B');
    await until(() => !A.provider.hasUnsentChanges(), 'every edit of A acknowledged');
  });

  it('does not send a change over the message limit, says so, and keeps receiving', async () => {
    const roomId = await createRoom(server.url);
    const A = await connect(roomId);
    const B = await connect(roomId);
    A.map.set('big', 'x'.repeat(MAX_YJS_MESSAGE_BYTES + 300_000));
    await until(() => A.errors.some((e) => e.code === 'too-large'), 'the too-large error');
    const error = A.errors.find((e) => e.code === 'too-large')!;
    expect(error.message).toMatch(/^This change is too large to share \(2\.3 MB > 2 MB\)\./);
    expect(A.provider.blocked).toBe(error.message);
    expect(A.provider.hasUnsentChanges()).toBe(true);

    // Nothing was refused by the server (nothing was sent), A stays connected and still
    // receives; B never sees the change.
    B.map.set('from-b', 1);
    await until(() => A.map.get('from-b') === 1, "B's edit in A");
    expect(A.provider.status).toBe('connected');
    expect(A.disconnects).toEqual([]);
    expect(A.errors.filter((e) => e.event === EV.ySync && e !== error)).toEqual([]);
    expect(B.map.has('big')).toBe(false);
  });

  it('uploads more than 2 MB of offline changes in several messages after a reconnect', async () => {
    const roomId = await createRoom(server.url);
    const A = await connect(roomId);
    const B = await connect(roomId);
    A.socket.disconnect();
    await until(() => A.provider.status === 'offline', 'A offline');
    // Five offline transactions of 600 kB: one step 2 of 3 MB would be refused.
    for (let i = 0; i < 5; i++) A.map.set(`offline-${i}`, String(i).repeat(600_000));
    expect(A.provider.hasUnsentChanges()).toBe(true);
    A.socket.connect();
    await until(() => [0, 1, 2, 3, 4].every((i) => B.map.has(`offline-${i}`)), 'all offline edits in B', 15_000);
    expect((B.map.get('offline-4') as string).length).toBe(600_000);
    await until(() => !A.provider.hasUnsentChanges(), 'every offline edit acknowledged');
    expect(A.errors).toEqual([]);
    expect(A.disconnects).toEqual(['io client disconnect']);
  });
});

describe('socket provider when the server refuses an update', () => {
  let server: TestServer;
  beforeAll(async () => {
    // A byte budget far below the one the provider paces itself for: its third quick update is
    // refused (rate-limited), which leaves a gap the provider must repair by itself.
    server = await startServer({ env: { RATE_BYTES_PER_SECOND: '200000', RATE_BYTES_BURST: '300000' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('repairs the gap a refused update leaves by joining again, without troubling anyone', async () => {
    const roomId = await createRoom(server.url);
    const make = async () => {
      const socket = io(server.url, { transports: ['websocket'], auth: { token: roomToken(roomId) } });
      const doc = new Y.Doc();
      const provider = new SocketIoProvider(socket, roomId, doc);
      const errors: ErrorEvent[] = [];
      const refused: ErrorEvent[] = [];
      provider.onError((e) => errors.push(e));
      socket.on(EV.error, (e: ErrorEvent) => refused.push(e));
      await provider.whenSynced();
      return { socket, doc, provider, errors, refused, map: doc.getMap('test') };
    };
    const A = await make();
    const B = await make();
    try {
      for (let i = 0; i < 4; i++) A.map.set(`part-${i}`, String(i).repeat(120_000));
      await until(() => [0, 1, 2, 3].every((i) => B.map.has(`part-${i}`)), 'every part in B', 15_000);
      // The server did refuse some (so the repair was exercised), and none of it reached the
      // provider's error listeners (the room panel).
      expect(A.refused.some((e) => e.code === 'rate-limited')).toBe(true);
      expect(A.errors).toEqual([]);
      await until(() => !A.provider.hasUnsentChanges(), 'every update acknowledged');
      expect(A.provider.status).toBe('connected');
    } finally {
      for (const c of [A, B]) {
        c.provider.destroy();
        c.socket.disconnect();
      }
    }
  });
});
