// Room ids are capability links: whoever knows the id can join, so they must be unguessable.
import { tokenFromHash } from '../protocol/access';
import { ROOM_ID_LENGTH, ROOM_ID_PATTERN } from '../protocol/limits';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A fresh room id: ROOM_ID_LENGTH chars of a 64-letter url-safe alphabet (6 random bits each;
 * 256 is a multiple of 64, so masking a random byte keeps every letter equally likely). */
export function newRoomId(length = ROOM_ID_LENGTH): string {
  const bytes = new Uint8Array(length);
  globalThis.crypto.getRandomValues(bytes);
  let id = '';
  for (const b of bytes) id += ALPHABET[b & 63];
  return id;
}

export const isRoomId = (s: string) => ROOM_ID_PATTERN.test(s);

/** Accepts what people paste: a bare id, a room link (`…/r/<id>`, with or without query or hash).
 * Returns the id or null. */
export function parseRoomInput(input: string): string | null {
  const text = input.trim();
  if (isRoomId(text)) return text;
  const m = /\/r\/([^/?#\s]+)/.exec(text);
  if (m) {
    const id = decodeURIComponent(m[1]!);
    if (isRoomId(id)) return id;
  }
  return null;
}

/** Like parseRoomInput, and keeps the link's token: a pasted `…/r/<id>#k=<token>` opens the room
 * with the role that link grants. */
export function parseRoomLink(input: string): { roomId: string; token: string | null } | null {
  const roomId = parseRoomInput(input);
  if (!roomId) return null;
  const hash = /#(.*)$/s.exec(input.trim())?.[1];
  return { roomId, token: hash ? tokenFromHash(hash) : null };
}
