// Upload bodies, read as they arrive: written to a temporary file (never collected in memory),
// hashed on the way, cut off past a size cap, a total deadline or a minimum average rate. And the
// body of a refused upload, read and dropped within the same bounds, so the client gets to read
// the refusal instead of a reset.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { HttpError } from './uploadLimits';

export interface BodyLimits {
  /** the whole body must arrive within this */
  timeoutMs: number;
  /** average bytes/s required once `graceMs` have passed (0 = none) */
  minBytesPerS: number;
  graceMs: number;
}

export interface ReceivedBody {
  bytes: number;
  sha256: Buffer;
}

const kb = (n: number) => `${Math.round(n / 1024)} KB`;

/** Why a body is too slow, or null while it is in time. */
function slowness(started: number, bytes: number, limits: BodyLimits): string | null {
  const elapsed = Date.now() - started;
  if (elapsed > limits.timeoutMs) {
    return `the upload took longer than ${Math.round(limits.timeoutMs / 1000)} s (UPLOAD_TIMEOUT_S); ${kb(bytes)} arrived`;
  }
  const required = (limits.minBytesPerS * elapsed) / 1000;
  if (limits.minBytesPerS > 0 && elapsed >= limits.graceMs && bytes < required) {
    return `the upload is too slow: ${kb(bytes)} in ${Math.round(elapsed / 1000)} s, under the ${kb(limits.minBytesPerS)}/s minimum (UPLOAD_MIN_BYTES_PER_S)`;
  }
  return null;
}

/** Thrown for a body that missed the deadline or the minimum rate: answered 408, then the
 * connection is closed (reading on would serve the slow client). */
export class SlowBodyError extends HttpError {
  constructor(message: string) {
    super(408, message, { connection: 'close' });
  }
}

/**
 * Write the request body to `path` (created, must not exist). Resolves when it is complete and on
 * disk; rejects with an HttpError (413 past `maxBytes`, 408 too slow) or the request's error. On
 * 413 the request is left paused and unread, for the caller to drain.
 */
export function receiveToFile(req: IncomingMessage, path: string, maxBytes: number, limits: BodyLimits): Promise<ReceivedBody> {
  return new Promise<ReceivedBody>((resolve, reject) => {
    const started = Date.now();
    const hash = createHash('sha256');
    const file = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    let bytes = 0;
    let done = false;
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      clearInterval(clock);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err) {
        req.pause();
        file.destroy();
        reject(err);
        return;
      }
      file.end(() => resolve({ bytes, sha256: hash.digest() }));
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.byteLength;
      if (bytes > maxBytes) {
        finish(new HttpError(413, `the file is over the ${mb(maxBytes)} limit per file`));
        return;
      }
      hash.update(chunk);
      if (!file.write(chunk)) {
        req.pause();
        file.once('drain', () => done || req.resume());
      }
    };
    const onEnd = () => finish(null);
    const onError = (e: Error) => finish(e);
    const onClose = () => req.readableEnded || finish(new Error('the client went away during the upload'));
    const clock = setInterval(() => {
      const slow = slowness(started, bytes, limits);
      if (slow) finish(new SlowBodyError(slow));
    }, 250);
    file.on('error', (e) => finish(e));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
    req.resume();
  });
}

/** Read and drop the rest of a body: true once it ended, false (connection destroyed) past
 * `maxBytes` more bytes, or when it is too slow. */
export function drainBody(req: IncomingMessage, maxBytes: number, limits: BodyLimits): Promise<boolean> {
  if (req.readableEnded || req.destroyed) return Promise.resolve(!req.destroyed);
  return new Promise((resolve) => {
    const started = Date.now();
    let bytes = 0;
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearInterval(clock);
      if (!ok) req.destroy();
      resolve(ok);
    };
    const clock = setInterval(() => {
      if (slowness(started, bytes, limits)) finish(false);
    }, 250);
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.byteLength;
      if (bytes > maxBytes) finish(false);
    });
    req.once('end', () => finish(true));
    req.once('error', () => finish(false));
    req.once('close', () => finish(req.readableEnded));
    req.resume();
  });
}

export const mb = (n: number) => `${(n / 1048576).toFixed(1).replace(/\.0$/, '')} MB`;
