// How big a local change may be to reach the others. The server refuses any Yjs message over
// MAX_YJS_MESSAGE_BYTES, and a refused update poisons every later one from the same client (they
// build on it), so the browser checks sizes before anything is written or sent.
import { MAX_YJS_MESSAGE_BYTES } from '../protocol/limits';

/** Records written to the doc in one transaction stay below this, leaving room for the Yjs
 * update's own framing (item headers, keys, the delete set) within MAX_YJS_MESSAGE_BYTES. */
export const MAX_TRANSACTION_RECORD_BYTES = MAX_YJS_MESSAGE_BYTES - 128 * 1024;

const mb = (bytes: number) => {
  const v = bytes / (1024 * 1024);
  return v >= 10 ? v.toFixed(0) : v.toFixed(1).replace(/\.0$/, '');
};

export const tooLargeToShareMessage = (bytes: number, limit = MAX_YJS_MESSAGE_BYTES) =>
  `This change is too large to share (${mb(bytes)} MB > ${mb(limit)} MB).`;

/** UTF-8 length of a string without allocating its bytes. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4; // a surrogate pair is one 4-byte code point
      i++;
    } else n += 3;
  }
  return n;
}
