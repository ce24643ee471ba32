// HTTP uploads of canvas images (server/uploads, lib/protocol/uploads.ts) against the real server:
// what is stored and served, and every refusal with its status and message.
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRoomId } from '../../lib/canvas/roomId';
import { MAX_UPLOAD_BYTES, UPLOAD_SOCKET_HEADER, UploadResult, UPLOADS_PATH } from '../../lib/protocol/uploads';
import { roomFetch } from '../helpers/roomHttp';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, type Peer } from '../helpers/yclient';

describe('canvas image uploads', () => {
  let server: TestServer;
  let peer: Peer;
  let roomId: string;
  let png: Buffer;

  // Uploads come from people in the room: the request names the uploader's joined socket.
  const post = (room: string, body: Uint8Array | string, type: string) =>
    fetch(`${server.url}${UPLOADS_PATH}/${room}`, {
      method: 'POST',
      body: body as BodyInit,
      headers: { 'content-type': type, [UPLOAD_SOCKET_HEADER]: peer.socket.id! },
    });

  beforeAll(async () => {
    server = await startServer();
    roomId = await createRoom(server.url);
    peer = await connectPeer(server.url, roomId); // uploads go to open rooms only, from their editors
    png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3366cc' } }).png().toBuffer();
  });
  afterAll(async () => {
    peer?.close();
    await server?.stop();
  });

  it('stores an image once and serves its bytes for good, never as a document', async () => {
    const r = await post(roomId, png, 'image/png');
    expect(r.status).toBe(201);
    const result = UploadResult.parse(await r.json());
    expect(result).toMatchObject({ bytes: png.byteLength, mime: 'image/png', width: 64, height: 48 });
    expect(result.src).toBe(`${UPLOADS_PATH}/${roomId}/${result.id}`);

    const again = UploadResult.parse(await (await post(roomId, png, 'image/png')).json());
    expect(again.id).toBe(result.id);

    const got = await roomFetch(server.url + result.src, roomId);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(png)).toBe(true);
    expect(got.headers.get('content-type')).toBe('image/png');
    expect(got.headers.get('cache-control')).toContain('immutable');
    expect(got.headers.get('content-security-policy')).toContain('sandbox');
    expect(got.headers.get('x-content-type-options')).toBe('nosniff');
    const cached = await roomFetch(server.url + result.src, roomId, { headers: { 'if-none-match': got.headers.get('etag')! } });
    expect(cached.status).toBe(304);
  });

  it('refuses what is not an image of the declared type, oversized files, closed rooms and bad URLs', async () => {
    const error = async (r: Response) => ((await r.json()) as { error: string }).error;
    let r = await post(roomId, 'hello', 'text/plain');
    expect(r.status).toBe(415);
    expect(await error(r)).toMatch(/only images can be uploaded/);

    const jpeg = await sharp(png).jpeg().toBuffer();
    r = await post(roomId, jpeg, 'image/png');
    expect(r.status).toBe(415);
    expect(await error(r)).toBe('the file is not a image/png image (its content is jpeg)');

    r = await post(roomId, png.subarray(0, 40), 'image/png');
    expect(r.status).toBe(415);
    expect(await error(r)).toMatch(/not a readable image\/png image/);

    r = await post(roomId, new Uint8Array(MAX_UPLOAD_BYTES + 1), 'image/png');
    expect(r.status).toBe(413);
    expect(await error(r)).toBe('the file is 20 MB, over the 20 MB limit per file');

    // The same without a declared length (a chunked body): caught while reading.
    const chunk = new Uint8Array(1024 * 1024);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent++ > MAX_UPLOAD_BYTES / chunk.byteLength) c.close();
        else c.enqueue(chunk);
      },
    });
    r = await fetch(`${server.url}${UPLOADS_PATH}/${roomId}`, {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'image/png', [UPLOAD_SOCKET_HEADER]: peer.socket.id! },
      duplex: 'half',
    } as RequestInit);
    expect(r.status).toBe(413);
    expect(await error(r)).toBe('the file is over the 20 MB limit per file');

    r = await post(newRoomId(), png, 'image/png'); // a room that does not exist
    expect(r.status).toBe(404);
    expect(await error(r)).toMatch(/is not open; join it before uploading/);

    r = await post('nope', png, 'image/png');
    expect(r.status).toBe(400);
    expect((await roomFetch(`${server.url}${UPLOADS_PATH}/${roomId}/${'A'.repeat(24)}`, roomId)).status).toBe(404);
    const wrongMethod = await fetch(`${server.url}${UPLOADS_PATH}/${roomId}`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    const renders405 = await fetch(`${server.url}/api/renders/${roomId}`, { method: 'PUT' });
    expect(renders405.status).toBe(405);
    expect(renders405.headers.get('allow')).toBe('GET, HEAD');
    expect(renders405.headers.get('cache-control')).toBe('no-store');

    // The room still works for everyone after all that.
    const other = await connectPeer(server.url, roomId);
    other.close();
  });
});
