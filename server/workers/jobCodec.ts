// What crosses Redis between web nodes and render workers, in one binary layout each way:
// a 4-byte big-endian length, a JSON header, then the bytes (a job's decoded RGB pixels, a
// result's JPEG). Pixels, not the client's PNG/JPEG: the web node already decoded and checked the
// snapshot (SnapshotIntake), so a worker never parses a client's file.
import type { RenderParams } from '../engine/messages';
import type { EngineTimings } from '../engine/messages';

/** A snapshot waiting for a render worker. */
export interface JobHeader {
  roomId: string;
  frameId: string;
  seq: number;
  settings: RenderParams;
  width: number;
  height: number;
  receivedAt: number;
  decodeMs: number;
  sourceClient?: string;
  sentAt?: number;
  /** the node that took the snapshot in */
  node: string;
}

/** What a worker publishes on the results channel. */
export type QueueMessage =
  | { t: 'state'; fk: string; state: 'queued' | 'rendering' | 'error'; worker?: string; message?: string }
  | {
      t: 'result';
      fk: string;
      job: Omit<JobHeader, 'width' | 'height'>;
      worker: string;
      model: string;
      width: number;
      height: number;
      params: RenderParams;
      timings: EngineTimings;
      startedAt: number;
      finishedAt: number;
    }
  | { t: 'failed'; fk: string; job: Omit<JobHeader, 'width' | 'height'>; worker: string; code?: string; message: string };

export function encodeFrame(header: object, bytes: Uint8Array = new Uint8Array(0)): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.allocUnsafe(4 + json.byteLength + bytes.byteLength);
  out.writeUInt32BE(json.byteLength, 0);
  json.copy(out, 4);
  out.set(bytes, 4 + json.byteLength);
  return out;
}

export function decodeFrame<H>(buf: Buffer): { header: H; bytes: Uint8Array } {
  const n = buf.readUInt32BE(0);
  const header = JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as H;
  const rest = buf.subarray(4 + n);
  return { header, bytes: new Uint8Array(rest.buffer, rest.byteOffset, rest.byteLength) };
}

/** The frame key of the queue: room ids never contain '/'. */
export const frameKey = (roomId: string, frameId: string) => `${roomId}/${frameId}`;

export function splitFrameKey(fk: string): { roomId: string; frameId: string } {
  const i = fk.indexOf('/');
  return { roomId: fk.slice(0, i), frameId: fk.slice(i + 1) };
}
