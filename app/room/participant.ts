// Who I am in a room: a random id, a name and a colour, remembered in localStorage so the same
// person keeps their identity across rooms and reloads.
import { UserInfo } from '../../lib/protocol/events';

export interface Participant extends UserInfo {
  /** stable per browser profile; becomes tldraw's user id (`user:<id>`) */
  id: string;
}

const STORAGE_KEY = 'livecanvas:participant';
/** set once this browser was asked for a name (answered or skipped, in a room or on the landing page) */
const NAME_ASKED_KEY = 'livecanvas:name-asked';

/** tldraw's collaborator palette: readable on white and dark canvases. */
export const PARTICIPANT_COLORS = [
  '#FF802B', '#EC5E41', '#F2555A', '#F04F88', '#E34BA9', '#BD54C6',
  '#9D5BD2', '#7B66DC', '#02B1CC', '#11B3A3', '#39B178', '#55B467',
] as const;

const ADJECTIVES = [
  'Brave', 'Calm', 'Clever', 'Cosy', 'Curious', 'Daring', 'Eager', 'Gentle', 'Happy', 'Jolly',
  'Kind', 'Lively', 'Lucky', 'Merry', 'Nimble', 'Quiet', 'Sunny', 'Swift', 'Witty', 'Zesty',
];
const ANIMALS = [
  'Badger', 'Crane', 'Dolphin', 'Falcon', 'Fox', 'Gecko', 'Heron', 'Koala', 'Lynx', 'Marten',
  'Narwhal', 'Otter', 'Owl', 'Panda', 'Puffin', 'Quokka', 'Raven', 'Seal', 'Tapir', 'Wombat',
];

function randomInt(n: number): number {
  const buf = new Uint32Array(1);
  crypto.getRandomValues(buf);
  return buf[0]! % n;
}

const pick = <T>(list: readonly T[]): T => list[randomInt(list.length)]!;

function randomId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function randomParticipant(): Participant {
  return { id: randomId(), name: `${pick(ADJECTIVES)} ${pick(ANIMALS)}`, color: pick(PARTICIPANT_COLORS) };
}

/** Check a name/colour the way the server will (same zod schema), for the editor's feedback. */
export function validateUserInfo(info: UserInfo): string | null {
  const r = UserInfo.safeParse(info);
  return r.success ? null : (r.error.issues[0]?.path[0] === 'color'
    ? 'Colour must look like #RRGGBB.'
    : 'Name must be 1 to 40 characters.');
}

let cached: Participant | null = null;
const listeners = new Set<() => void>();

function read(): Participant {
  try {
    const raw = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null');
    if (raw && typeof raw.id === 'string' && raw.id && UserInfo.safeParse(raw).success) {
      return { id: raw.id, name: raw.name.trim(), color: raw.color };
    }
  } catch {
    /* private mode or corrupt entry: start fresh */
  }
  const fresh = randomParticipant();
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(fresh));
  } catch {
    /* not persisted, still usable */
  }
  return fresh;
}

export function getParticipant(): Participant {
  return (cached ??= read());
}

export function setParticipant(next: Participant) {
  if (validateUserInfo(next)) return;
  cached = { id: next.id, name: next.name.trim(), color: next.color };
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(cached));
  } catch {
    /* keep it for this tab at least */
  }
  for (const l of listeners) l();
}

/** For useSyncExternalStore; also follows edits made in other tabs. */
export function subscribeParticipant(listener: () => void): () => void {
  listeners.add(listener);
  const onStorage = (e: StorageEvent) => {
    if (e.key !== STORAGE_KEY) return;
    cached = null;
    listener();
  };
  window.addEventListener('storage', onStorage);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('storage', onStorage);
  };
}

/** Whether this browser was already asked what name others should see. */
export function wasNameAsked(): boolean {
  try {
    return localStorage.getItem(NAME_ASKED_KEY) === '1';
  } catch {
    return true; // nowhere to remember the answer: do not ask on every visit
  }
}

export function markNameAsked(): void {
  try {
    localStorage.setItem(NAME_ASKED_KEY, '1');
  } catch {
    /* asked again next time */
  }
}
