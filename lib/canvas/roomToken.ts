// The room link's token in the browser. A link carries it in the URL fragment (`#k=<token>`,
// lib/protocol/access.ts), which is never sent to a server; the room page takes it from there
// once, keeps it in sessionStorage for this tab (a reload without the fragment still works) and
// removes it from the address bar, so a screenshot or a copied address does not share it. It only
// ever travels in the Socket.IO handshake `auth` and the Authorization header of the session call.
import { LINK_TOKEN_PARAM, tokenFromHash } from '../protocol/access';

const storageKey = (roomId: string) => `livecanvas:link:${roomId}`;

/** What the room page needs of `window`; tests pass their own. */
export interface TokenEnv {
  location: Pick<Location, 'hash' | 'pathname' | 'search'>;
  history: Pick<History, 'state' | 'replaceState'>;
  storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null;
}

const browserEnv = (): TokenEnv => ({ location: window.location, history: window.history, storage: sessionStorageOrNull() });

function sessionStorageOrNull(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage blocked: the fragment still works for this page load
  }
}

/** The fragment without the token parameter ('' when nothing else was in it). */
export function hashWithoutToken(hash: string): string {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  params.delete(LINK_TOKEN_PARAM);
  const rest = params.toString();
  return rest ? `#${rest}` : '';
}

/**
 * The token of this room for this tab: from the address's fragment (then remembered and removed
 * from the address bar), else the one remembered earlier in this tab, else null (an open room, or
 * a link without its token: the server decides).
 */
export function takeRoomToken(roomId: string, env: TokenEnv = browserEnv()): string | null {
  const fromHash = tokenFromHash(env.location.hash);
  if (fromHash) {
    rememberRoomToken(roomId, fromHash, env.storage);
    const { pathname, search, hash } = env.location;
    env.history.replaceState(env.history.state, '', `${pathname}${search}${hashWithoutToken(hash)}`);
    return fromHash;
  }
  try {
    return env.storage?.getItem(storageKey(roomId)) || null;
  } catch {
    return null;
  }
}

/** Keep a room's token for this tab (the landing page does it before opening a room). */
export function rememberRoomToken(roomId: string, token: string, storage = browserEnv().storage): void {
  try {
    storage?.setItem(storageKey(roomId), token);
  } catch {
    /* storage full or blocked: the token still works until the page is reloaded */
  }
}

/** Forget a token the server no longer accepts (rotated, room deleted). */
export function forgetRoomToken(roomId: string, storage = browserEnv().storage): void {
  try {
    storage?.removeItem(storageKey(roomId));
  } catch {
    /* nothing to forget */
  }
}
