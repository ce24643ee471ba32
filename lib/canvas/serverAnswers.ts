// What the server's answers mean to the socket provider: which refusals it repairs by itself,
// which error a failed join or a refused update shows, and how long to wait before trying again.
import { ErrorCode, EV, type ErrorEvent } from '../protocol/events';

/** The ack of a `y:sync` message. */
export type AckResult = { ok: boolean; error?: { code?: string; message?: string } };

/** Upper bound of every backoff: reconnecting and rejoining after refusals. */
export const MAX_BACKOFF_MS = 30_000;
/** Refusals the provider repairs by itself (by joining again); not worth showing anyone. */
const REPAIRED_CODES: ReadonlySet<string> = new Set(['malformed-update', 'rate-limited']);

/** Whether an `lc:error` for this room is worth passing on to the page. */
export function isWorthShowing(err: ErrorEvent): boolean {
  if (err.event === EV.ySync && REPAIRED_CODES.has(err.code)) return false; // see refusalDelayMs
  // A dropped presence update (e.g. re-announced while our previous connection had not timed
  // out yet) heals with the next heartbeat; nothing anyone needs to act on.
  if (err.event === EV.yAwareness) return false;
  return true;
}

const describe = (error: unknown): string =>
  typeof error === 'string'
    ? error
    : error && typeof error === 'object' && 'message' in error
      ? String((error as { message: unknown }).message)
      : 'no reason given';

/** The error of a `room:join` that timed out (`timedOut`) or was refused (`ack`). */
export function joinFailure(
  timedOut: boolean,
  ack: { ok: boolean; error?: unknown } | undefined,
  joinTimeoutMs: number,
  roomId: string,
): ErrorEvent {
  const message = timedOut
    ? `the server did not answer room:join within ${joinTimeoutMs / 1000} s, retrying`
    : `the server refused to join the room: ${describe(ack?.error)}`;
  const refused = ErrorCode.safeParse((ack?.error as { code?: unknown } | undefined)?.code);
  return {
    code: timedOut ? 'server-error' : refused.success ? refused.data : 'invalid-room',
    message,
    event: EV.roomJoin,
    roomId,
  };
}

/** The error to show for a refused update, if any: 'too-large' means the room is full (or a
 * message was over the limit after all), which retrying cannot help. */
export function refusalError(ack: AckResult, roomId: string): ErrorEvent | null {
  const { code, message = '' } = ack.error ?? {};
  if (code !== 'too-large') return null;
  return { code: 'too-large', message: message || 'the server refused a change as too large', event: EV.ySync, roomId };
}

/** How long to wait before joining again after a refused update, given the refusals since the
 * last accepted one. The first refusal is usually a gap that one rejoin repairs; one that keeps
 * coming back (a full room) must not become a loop. A rate limit's "retry in N ms" is honoured. */
export function refusalDelayMs(ack: AckResult, earlierRefusals: number): number {
  const { code, message = '' } = ack.error ?? {};
  const backoff = earlierRefusals === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 250 * 2 ** (earlierRefusals + 1));
  const retryIn = Number(/retry in (\d+) ms/.exec(message)?.[1] ?? 0);
  return Math.max(backoff, code === 'rate-limited' ? retryIn || 1000 : 0);
}
