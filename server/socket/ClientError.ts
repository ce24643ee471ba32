// A rejected client message: becomes an `lc:error` event (and a failed ack) with a protocol error
// code, and (unless marked otherwise) counts as a violation towards disconnection. Anything else
// thrown by a handler is a bug of ours and is reported as `server-error` without blaming the client.
import type { ZodError } from 'zod';
import type { ErrorCode } from '../../lib/protocol/events';

export class ClientError extends Error {
  override name = 'ClientError';
  /** false for refusals an honest client can run into (a full room): they are reported but never
   * lead to a disconnect */
  readonly violation: boolean;
  constructor(
    readonly code: ErrorCode,
    message: string,
    opts: { violation?: boolean } = {},
  ) {
    super(message);
    this.violation = opts.violation ?? true;
  }
}

/** Map a failed payload parse to the most specific error code. */
export function clientErrorFromZod(error: ZodError, event: string): ClientError {
  const issues = error.issues;
  // The byte limit refinements of lib/protocol say "binary payload larger than N bytes".
  const tooLarge = issues.find((i) => /larger than/.test(i.message));
  if (tooLarge) return new ClientError('too-large', `${event}: ${tooLarge.path.join('.') || 'payload'} is too large (${tooLarge.message})`);
  const badRoom = issues.find((i) => i.path[0] === 'roomId');
  if (badRoom) return new ClientError('invalid-room', `${event}: invalid room id (${badRoom.message})`);
  const first = issues[0];
  const where = first && first.path.length > 0 ? first.path.join('.') : 'payload';
  return new ClientError('invalid-message', `${event}: ${where}: ${first?.message ?? 'invalid'}`);
}
