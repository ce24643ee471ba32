// Access control, enforced by the server (issue "Access control", acceptance 1, 2 and 4): two real
// socket clients per case, the way Hocuspocus tests onAuthenticate.
import { generateKeyPairSync } from 'node:crypto';
import { importPKCS8, SignJWT } from 'jose';
import sharp from 'sharp';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveFrameRecord } from '../../lib/canvas/liveFrame';
import { ACCESS_EV, roomCookieName, RoomJoinAck, roomSessionPath, type RoomRevoked } from '../../lib/protocol/access';
import { EV, type RenderResult } from '../../lib/protocol';
import { UPLOAD_SOCKET_HEADER } from '../../lib/protocol/uploads';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, drawShape, randomRoomId, roomToken, until, type Peer } from '../helpers/yclient';

const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
let server: TestServer;

beforeAll(async () => {
  server = await startServer({
    model: 'tiny-lcm',
    env: { LOG_LEVEL: 'warn', ENGINE_WARMUP_SIZES: '128', AUTH_JWT_PUBLIC_KEY: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
  });
  await until(async () => ((await (await fetch(`${server.url}/healthz`)).json()) as { engine?: { state: string } }).engine?.state === 'ready', 60_000, 'engine ready');
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

/** The join ack a socket with this handshake token gets. */
async function joinWith(roomId: string, token: string | undefined): Promise<RoomJoinAck> {
  const socket = io(server.url, { transports: ['websocket'], forceNew: true, reconnection: false, ...(token && { auth: { token } }) });
  try {
    return RoomJoinAck.parse(await socket.timeout(5_000).emitWithAck(EV.roomJoin, { roomId }));
  } finally {
    socket.close();
  }
}

const jpeg = () => sharp({ create: { width: 128, height: 128, channels: 3, background: '#fff' } }).jpeg().toBuffer();

describe('roles enforced by the server', () => {
  it("a viewer's update is refused, never reaches the editor, and is not stored", async () => {
    const room = await createRoom(server.url);
    const editor = await connectPeer(server.url, room);
    const viewer = await connectPeer(server.url, room, { role: 'viewer' });
    editor.records.set('shape:e1', drawShape(1));
    await editor.acked();
    await until(() => viewer.records.has('shape:e1'), 5_000, "the editor's stroke at the viewer");
    viewer.records.set('shape:v1', drawShape(2));
    await until(() => viewer.nacks.length > 0, 5_000, 'the refusal');
    expect(viewer.nacks[0]).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    await new Promise((r) => setTimeout(r, 300));
    expect(editor.records.has('shape:v1')).toBe(false);
    editor.close();
    viewer.close();
    // a newcomer after a restart reads the stored room: the editor's stroke, not the viewer's
    await server.stop();
    server = await startServer({ dataDir: server.dataDir, port: server.port, model: 'tiny-lcm', env: { LOG_LEVEL: 'warn', ENGINE_WARMUP_SIZES: '128', AUTH_JWT_PUBLIC_KEY: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString() } });
    const later = await connectPeer(server.url, room);
    expect(later.records.has('shape:e1')).toBe(true);
    expect(later.records.has('shape:v1')).toBe(false);
    later.close();
  }, 120_000);

  it("a viewer's snapshot, pin and upload are refused; it still sees renders", async () => {
    await until(async () => ((await (await fetch(`${server.url}/healthz`)).json()) as { engine?: { state: string } }).engine?.state === 'ready', 60_000, 'engine ready');
    const room = await createRoom(server.url);
    const editor = await connectPeer(server.url, room);
    const viewer = await connectPeer(server.url, room, { role: 'viewer' });
    const seen: RenderResult[] = [];
    viewer.socket.on(EV.render, (r: RenderResult) => seen.push(r));
    editor.records.set('shape:f', liveFrameRecord('shape:f', { w: 128, h: 128, outputSize: 128 }));
    await editor.acked();
    const image = await jpeg();
    const snap = { roomId: room, frameId: 'shape:f', seq: Date.now(), hash: 'h', mime: 'image/jpeg', image };
    expect(await viewer.socket.emitWithAck(EV.snapshot, snap)).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(await editor.socket.emitWithAck(EV.snapshot, snap)).toMatchObject({ ok: true });
    await until(() => seen.length > 0, 10_000, 'the render at the viewer');
    expect(await viewer.socket.emitWithAck(EV.pin, { roomId: room, frameId: 'shape:f', seq: seen[0]!.seq })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    const upload = await fetch(`${server.url}/api/uploads/${room}`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg', [UPLOAD_SOCKET_HEADER]: viewer.socket.id! },
      body: image,
    });
    expect(upload.status).toBe(403);
    const byEditor = await fetch(`${server.url}/api/uploads/${room}`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg', [UPLOAD_SOCKET_HEADER]: editor.socket.id! },
      body: image,
    });
    expect(byEditor.status).toBe(201);
    editor.close();
    viewer.close();
  });

  it('refuses unknown rooms, other rooms, tampered, expired and alg:none tokens', async () => {
    const a = await createRoom(server.url);
    const b = await createRoom(server.url);
    expect(await joinWith(randomRoomId(), undefined)).toMatchObject({ ok: false, error: { code: 'no-such-room' } });
    expect(await joinWith(randomRoomId(), roomToken(a, 'owner'))).toMatchObject({ ok: false, error: { code: 'no-such-room' } });
    expect(await joinWith(a, undefined)).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(await joinWith(b, roomToken(a, 'viewer'))).toMatchObject({ ok: false, error: { code: 'forbidden', message: expect.stringMatching(/another room/) } });
    const [h, p, s] = roomToken(a, 'viewer').split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, role: 'owner' })).toString('base64url')}.${s}`;
    expect(await joinWith(a, forged)).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ ...claims, role: 'owner' })).toString('base64url')}.`;
    expect(await joinWith(a, none)).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    const key = await importPKCS8(keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'ES256');
    const expired = await new SignJWT({ room: a, role: 'editor', name: 'Old' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime(Math.floor(Date.now() / 1000) - 5).sign(key);
    expect(await joinWith(a, expired)).toMatchObject({ ok: false, error: { code: 'forbidden', message: expect.stringMatching(/expired/) } });
    expect(await joinWith(a, roomToken(a, 'viewer'))).toMatchObject({ ok: true, role: 'viewer', open: false });
  });

  it('rotating the view link disconnects its viewers within 1 s, and the old link no longer joins', async () => {
    const room = await createRoom(server.url);
    const owner = await connectPeer(server.url, room, { role: 'owner' });
    const viewer = await connectPeer(server.url, room, { role: 'viewer' });
    const editor = await connectPeer(server.url, room);
    const revoked: RoomRevoked[] = [];
    viewer.socket.on(ACCESS_EV.revoked, (m: RoomRevoked) => revoked.push(m));
    const oldToken = roomToken(room, 'viewer');
    const t0 = Date.now();
    const ack = await owner.socket.emitWithAck(ACCESS_EV.rotateLink, { roomId: room, role: 'viewer' });
    expect(ack).toMatchObject({ ok: true });
    await until(() => !viewer.socket.connected, 1_000, 'the viewer disconnected');
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(revoked[0]?.reason).toMatch(/replaced the view link/);
    expect(editor.socket.connected).toBe(true);
    expect(await joinWith(room, oldToken)).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    const fresh = new URL(`http://x${(ack as { links: { viewer: string } }).links.viewer}`).hash.slice(3);
    expect(await joinWith(room, fresh)).toMatchObject({ ok: true, role: 'viewer' });
    // only the owner manages links
    expect(await editor.socket.emitWithAck(ACCESS_EV.rotateLink, { roomId: room, role: 'editor' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    for (const p of [owner, editor]) p.close();
  });

  it('a token minted by another service (AUTH_JWT_PUBLIC_KEY) joins with the name and role it carries', async () => {
    const room = await createRoom(server.url);
    const key = await importPKCS8(keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'ES256');
    const token = await new SignJWT({ room, role: 'viewer', name: 'Dana (SSO)' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('10m').sign(key);
    expect(await joinWith(room, token)).toEqual({ ok: true, role: 'viewer', open: false, name: 'Dana (SSO)' });
    const other = await connectPeer(server.url, room);
    const names = () => [...other.awareness.getStates().values()].map((st) => (st as { user?: { name?: string } }).user?.name);
    // a client that shows another name than its token's is refused; with the token's name it is seen
    const liar = await connectPeer(server.url, room, { token, user: { name: 'Someone else', color: '#123456' } });
    await until(() => liar.errors.some((e) => e.event === EV.yAwareness && /fixes your name/.test(e.message)), 5_000, 'the refused name');
    expect(names()).not.toContain('Someone else');
    const dana = await connectPeer(server.url, room, { token, user: { name: 'Dana (SSO)', color: '#123456' } });
    await until(() => names().includes('Dana (SSO)'), 5_000, "the token's name at the other client");
    dana.records.set('shape:sso', drawShape(3));
    await until(() => dana.nacks.length > 0, 5_000, 'the refusal of a viewer write');
    for (const p of [other, liar, dana]) p.close();
  });
});

describe('HTTP reads need the room', () => {
  it('renders and uploads answer 401 without the cookie, 403 with another room’s, 200 with their own', async () => {
    const room = await createRoom(server.url);
    const other = await createRoom(server.url);
    const editor: Peer = await connectPeer(server.url, room);
    editor.records.set('shape:f', liveFrameRecord('shape:f', { w: 128, h: 128, outputSize: 128 }));
    await editor.acked();
    const upload = await fetch(`${server.url}/api/uploads/${room}`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg', [UPLOAD_SOCKET_HEADER]: editor.socket.id! },
      body: await jpeg(),
    });
    expect(upload.status).toBe(201);
    const { src: uploadUrl } = (await upload.json()) as { src: string };
    for (const path of [`/api/renders/${room}`, `/api/renders/${room}/shape%3Af`, uploadUrl]) {
      expect((await fetch(`${server.url}${path}`)).status, path).toBe(401);
      expect((await fetch(`${server.url}${path}`, { headers: { cookie: `${roomCookieName(room)}=${roomToken(other, 'owner')}` } })).status, path).toBe(403);
    }
    // the page exchanges its link for the cookie
    const session = await fetch(`${server.url}${roomSessionPath(room)}`, { method: 'POST', headers: { authorization: `Bearer ${roomToken(room, 'viewer')}` } });
    expect(session.status).toBe(204);
    const cookie = session.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const jar = cookie.split(';')[0]!;
    for (const path of [`/api/renders/${room}`, `/api/renders/${room}/shape%3Af`, uploadUrl]) {
      expect((await fetch(`${server.url}${path}`, { headers: { cookie: jar } })).status, path).toBe(200);
    }
    // no endpoint lists rooms
    expect((await fetch(`${server.url}/api/rooms`)).status).toBe(405);
    expect((await fetch(`${server.url}/api/renders/`)).status).toBe(404);
    editor.close();
  });
});
