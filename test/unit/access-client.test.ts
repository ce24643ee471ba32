// The browser side of access control without a browser: the link token's journey (fragment →
// sessionStorage, never a URL), reading the join ack, the landing page's room creation, the session
// call, and the socket provider's behaviour as a viewer, after a revocation and after a refused join
// (on a fake socket that records what the page would send).
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { InstancePresenceRecordType, createTLStore, defaultBindingUtils, defaultShapeUtils, atom, type TLUser } from 'tldraw';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { awarenessUser } from '../../app/room/useRoomConnection';
import { bindPresence, presenceIdFor } from '../../lib/canvas/presence';
import { createRoom, openRoomSession, readJoinAck, RoomAccessState } from '../../lib/canvas/roomAccess';
import { parseRoomInput, parseRoomLink } from '../../lib/canvas/roomId';
import { hashWithoutToken, takeRoomToken, type TokenEnv } from '../../lib/canvas/roomToken';
import { SocketIoProvider } from '../../lib/canvas/socketProvider';
import { ACCESS_EV, roomLink } from '../../lib/protocol/access';
import { EV } from '../../lib/protocol/events';

const ROOM = 'AbCdEfGhIjKlMnOp';
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJyb29tIjoiQWJDZCJ9.c2lnbmF0dXJl';

function memoryStorage() {
  const m = new Map<string, string>();
  return {
    map: m,
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
  };
}

function env(hash: string, storage: TokenEnv['storage'] = memoryStorage()) {
  const replaced: string[] = [];
  const e: TokenEnv = {
    location: { hash, pathname: `/r/${ROOM}`, search: '' },
    history: { state: { keep: 1 }, replaceState: (_s, _t, url) => void replaced.push(String(url)) },
    storage,
  };
  return { env: e, replaced };
}

describe('the link token in the browser', () => {
  it('is taken from the fragment, kept for the tab, and removed from the address bar', () => {
    const storage = memoryStorage();
    const first = env(`#k=${TOKEN}`, storage);
    expect(takeRoomToken(ROOM, first.env)).toBe(TOKEN);
    expect(first.replaced).toEqual([`/r/${ROOM}`]);
    // a reload: no fragment any more, the tab still has it
    const reload = env('', storage);
    expect(takeRoomToken(ROOM, reload.env)).toBe(TOKEN);
    expect(reload.replaced).toEqual([]);
    // another room knows nothing of it
    expect(takeRoomToken('ZyXwVuTsRqPoNm', env('', storage).env)).toBeNull();
  });

  it('keeps the rest of the fragment and works when storage is blocked', () => {
    expect(hashWithoutToken(`#k=${TOKEN}&view=side`)).toBe('#view=side');
    expect(hashWithoutToken(`#k=${TOKEN}`)).toBe('');
    const blocked = {
      getItem: () => {
        throw new Error('blocked');
      },
      setItem: () => {
        throw new Error('blocked');
      },
      removeItem: () => {},
    };
    const e = env(`#k=${TOKEN}`, blocked);
    expect(takeRoomToken(ROOM, e.env)).toBe(TOKEN);
    expect(takeRoomToken(ROOM, env('', blocked).env)).toBeNull();
  });

  it('a pasted link keeps its token; ids and links without one still open', () => {
    const link = `https://canvas.example${roomLink(ROOM, TOKEN)}`;
    expect(parseRoomLink(link)).toEqual({ roomId: ROOM, token: TOKEN });
    expect(parseRoomLink(`  ${roomLink(ROOM, TOKEN)}  `)).toEqual({ roomId: ROOM, token: TOKEN });
    expect(parseRoomLink(`https://canvas.example/r/${ROOM}`)).toEqual({ roomId: ROOM, token: null });
    expect(parseRoomLink(ROOM)).toEqual({ roomId: ROOM, token: null });
    expect(parseRoomLink('not a link')).toBeNull();
    expect(parseRoomInput(link)).toBe(ROOM);
  });
});

describe('join acks', () => {
  it('grant a role, an open room and a fixed name', () => {
    expect(readJoinAck({ ok: true, role: 'viewer', open: false })).toEqual({ ok: true, grant: { role: 'viewer', open: false } });
    expect(readJoinAck({ ok: true, role: 'editor', open: false, name: 'Dana Scully' })).toEqual({
      ok: true,
      grant: { role: 'editor', open: false, name: 'Dana Scully' },
    });
    // a server without access control: everyone edits an open room
    expect(readJoinAck({ ok: true })).toEqual({ ok: true, grant: { role: 'editor', open: true } });
  });

  it('tell final refusals from ones worth retrying', () => {
    const forbidden = readJoinAck({ ok: false, error: { code: 'forbidden', message: 'this viewer link was replaced' } });
    expect(forbidden).toEqual({
      ok: false,
      final: true,
      denial: { kind: 'refused', code: 'forbidden', message: 'this viewer link was replaced' },
    });
    expect(readJoinAck({ ok: false, error: { code: 'no-such-room', message: 'no' } })).toMatchObject({ final: true });
    expect(readJoinAck({ ok: false, error: { code: 'rate-limited', message: 'slow down' } })).toMatchObject({ final: false });
    expect(readJoinAck(null)).toMatchObject({ ok: false, final: false, denial: { code: 'invalid-room' } });
  });

  it('RoomAccessState tells listeners at once and keeps the first denial', () => {
    const s = new RoomAccessState();
    expect(s.mayWrite).toBe(true);
    const grants: string[] = [];
    s.onGrant((g) => grants.push(g.role));
    s.granted({ role: 'viewer', open: false });
    expect(s.mayWrite).toBe(false);
    const late: string[] = [];
    s.onGrant((g) => late.push(g.role));
    expect([grants, late]).toEqual([['viewer'], ['viewer']]);
    expect(s.deny({ kind: 'revoked', code: 'revoked', message: 'first' })).toBe(true);
    expect(s.deny({ kind: 'refused', code: 'forbidden', message: 'second' })).toBe(false);
    const denials: string[] = [];
    s.onDenied((d) => denials.push(d.message));
    expect(denials).toEqual(['first']);
  });

  it('what others see: a viewer says so, a single-sign-on name wins', () => {
    const me = { name: 'Local Name', color: '#123456' };
    expect(awarenessUser(me, null)).toEqual(me);
    expect(awarenessUser(me, { role: 'owner', open: false })).toEqual(me);
    expect(awarenessUser(me, { role: 'viewer', open: false })).toEqual({ ...me, role: 'viewer' });
    expect(awarenessUser(me, { role: 'editor', open: false, name: 'Fox Mulder' })).toEqual({ name: 'Fox Mulder', color: '#123456' });
  });
});

describe('HTTP calls of the page', () => {
  const respond = (status: number, body: unknown) =>
    vi.fn(async (_url: string | URL | Request, _init?: RequestInit) => new Response(body === undefined ? null : JSON.stringify(body), { status }));

  it('creating a room answers its links, or a message a person understands', async () => {
    const links = { owner: roomLink(ROOM, 'o'), editor: roomLink(ROOM, 'e'), viewer: roomLink(ROOM, 'v') };
    const ok = respond(201, { roomId: ROOM, links });
    expect(await createRoom(ok as unknown as typeof fetch)).toEqual({ ok: true, room: { roomId: ROOM, links } });
    expect(ok.mock.calls[0]![0]).toBe('/api/rooms');
    expect(ok.mock.calls[0]![1]).toMatchObject({ method: 'POST' });

    const limited = await createRoom(respond(429, { error: 'this address created 20 rooms (ROOMS_PER_HOUR)' }) as unknown as typeof fetch);
    expect(limited).toEqual({ ok: false, message: expect.stringMatching(/^Too many rooms were created/) });
    const broken = await createRoom(respond(500, { error: 'disk full.' }) as unknown as typeof fetch);
    expect(broken).toEqual({ ok: false, message: 'Could not create a room: disk full.' });
    const offline = await createRoom((async () => {
      throw new TypeError('Failed to fetch');
    }) as unknown as typeof fetch);
    expect(offline).toMatchObject({ ok: false, message: expect.stringMatching(/Could not reach the server/) });
  });

  it('the session call carries the token in the Authorization header only', async () => {
    const f = respond(204, undefined);
    expect(await openRoomSession(ROOM, TOKEN, f as unknown as typeof fetch)).toBeNull();
    const [url, init] = f.mock.calls[0]!;
    expect(url).toBe(`/api/rooms/${ROOM}/session`);
    expect(String(url)).not.toContain(TOKEN);
    expect(init).toMatchObject({ method: 'POST', credentials: 'same-origin', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await openRoomSession(ROOM, TOKEN, respond(403, { error: 'this link was replaced' }) as unknown as typeof fetch)).toBe(
      'this link was replaced',
    );
  });
});

// ───────────── the provider on a fake socket ─────────────

type Handler = (...args: any[]) => void;

/** What SocketIoProvider uses of a socket.io-client Socket; records every emit. */
class FakeSocket {
  connected = false;
  id: string | undefined;
  private n = 0;
  readonly handlers = new Map<string, Set<Handler>>();
  readonly sent: { event: string; payload: any; ack?: Handler }[] = [];
  connects = 0;

  on(event: string, fn: Handler) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)!.add(fn);
    return this;
  }
  off(event: string, fn: Handler) {
    this.handlers.get(event)?.delete(fn);
    return this;
  }
  emit(event: string, payload: unknown, ack?: Handler) {
    this.sent.push({ event, payload, ack });
    return this;
  }
  timeout(_ms: number) {
    return { emit: (event: string, payload: unknown, ack?: Handler) => this.emit(event, payload, ack) };
  }
  connect() {
    this.connects++;
    return this;
  }
  disconnect() {
    return this;
  }
  /** the server side */
  fire(event: string, ...args: unknown[]) {
    for (const h of [...(this.handlers.get(event) ?? [])]) h(...args);
  }
  open() {
    this.connected = true;
    this.id = `sock-${++this.n}`;
    this.fire('connect');
  }
  drop(reason: string) {
    this.connected = false;
    this.fire('disconnect', reason);
  }
  last(event: string) {
    return [...this.sent].reverse().find((s) => s.event === event);
  }
  /** sync message types of every y:sync sent: 0 step 1, 1 step 2, 2 update */
  syncTypes(): number[] {
    return this.sent
      .filter((s) => s.event === EV.ySync)
      .map((s) => decoding.readVarUint(decoding.createDecoder(s.payload.data as Uint8Array)));
  }
}

/** The server's sync step 1 for a doc holding `serverDoc`. */
function serverStep1(serverDoc: Y.Doc): Uint8Array {
  const e = encoding.createEncoder();
  syncProtocol.writeSyncStep1(e, serverDoc);
  return encoding.toUint8Array(e);
}

describe('the socket provider and access', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
    vi.useRealTimers();
  });

  function joined(ack: unknown) {
    const socket = new FakeSocket();
    const doc = new Y.Doc();
    const provider = new SocketIoProvider(socket as never, ROOM, doc, {
      user: { name: 'Vera', color: '#112233' },
      reconnectBaseMs: 10,
    });
    cleanups.push(() => provider.destroy());
    socket.open();
    socket.last(EV.roomJoin)!.ack!(null, ack);
    return { socket, doc, provider };
  }

  it('a viewer sends its step 1 and presence, never a step 2 or an update', () => {
    const { socket, doc, provider } = joined({ ok: true, role: 'viewer', open: false });
    expect(provider.access.role).toBe('viewer');
    const serverDoc = new Y.Doc();
    serverDoc.getMap('m').set('from-owner', 1);
    socket.fire(EV.ySync, { roomId: ROOM, data: serverStep1(serverDoc) });
    doc.getMap('m').set('local', 1); // read-only tldraw makes none; a local change still stays here
    expect(socket.syncTypes()).toEqual([0]);
    expect(provider.hasUnsentChanges()).toBe(false);
    expect(socket.sent.some((s) => s.event === EV.yAwareness)).toBe(true);
  });

  it('an editor answers with its step 2 and sends its updates', () => {
    const { socket, doc, provider } = joined({ ok: true, role: 'editor', open: false });
    socket.fire(EV.ySync, { roomId: ROOM, data: serverStep1(new Y.Doc()) });
    socket.last(EV.ySync)!.ack!(null, { ok: true });
    doc.getMap('m').set('local', 1);
    expect(socket.syncTypes()).toEqual([0, 1, 2]);
    expect(provider.hasUnsentChanges()).toBe(true);
  });

  it('room:revoked stops it: offline, no reconnect, no join', async () => {
    vi.useFakeTimers();
    const { socket, provider } = joined({ ok: true, role: 'viewer', open: false });
    const denials: string[] = [];
    provider.access.onDenied((d) => denials.push(`${d.kind}: ${d.message}`));
    socket.fire(ACCESS_EV.revoked, { roomId: 'SomeOtherRoom1', reason: 'not ours' });
    expect(denials).toEqual([]);
    socket.fire(ACCESS_EV.revoked, { roomId: ROOM, reason: 'the owner replaced the view link' });
    socket.drop('io server disconnect');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(denials).toEqual(['revoked: the owner replaced the view link']);
    expect(provider.status).toBe('offline');
    expect(socket.connects).toBe(0);
  });

  it('a join refused for good is not retried, even after a reconnect; a retryable one is', () => {
    const { socket, provider } = joined({ ok: false, error: { code: 'forbidden', message: 'this link was replaced' } });
    expect(provider.access.denied).toEqual({ kind: 'refused', code: 'forbidden', message: 'this link was replaced' });
    const joins = () => socket.sent.filter((s) => s.event === EV.roomJoin).length;
    socket.drop('transport close');
    socket.open();
    expect(joins()).toBe(1);

    const other = joined({ ok: false, error: { code: 'rate-limited', message: 'slow down' } });
    expect(other.provider.access.denied).toBeNull();
    other.socket.drop('transport close');
    other.socket.open();
    expect(other.socket.sent.filter((s) => s.event === EV.roomJoin)).toHaveLength(2);
  });
});

describe('presence of a viewer', () => {
  it("is shown as a viewer on its cursor", () => {
    const store = createTLStore({ shapeUtils: defaultShapeUtils, bindingUtils: defaultBindingUtils });
    const doc = new Y.Doc();
    const awareness = new awarenessProtocol.Awareness(doc);
    const $user = atom<TLUser | null>('user', null);
    const binding = bindPresence(store, awareness, $user);
    const peerDoc = new Y.Doc();
    const peer = new awarenessProtocol.Awareness(peerDoc);
    const presence = InstancePresenceRecordType.create({
      id: presenceIdFor(peer.clientID),
      currentPageId: 'page:page' as never,
      userId: 'user:peer' as never,
      userName: 'Vic',
    });
    peer.setLocalState({ user: { name: 'Vic', color: '#112233', role: 'viewer' }, presence });
    awarenessProtocol.applyAwarenessUpdate(awareness, awarenessProtocol.encodeAwarenessUpdate(peer, [peer.clientID]), 'test');
    expect(store.get(presenceIdFor(peer.clientID))?.userName).toBe('Vic (viewer)');
    binding.dispose();
    awareness.destroy();
    peer.destroy();
  });
});
