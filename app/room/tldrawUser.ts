// One participant, three views tldraw needs: user preferences (`user` prop: name, colour, and the
// editor's own settings such as dark mode), the user record for presence and attribution, and
// write-back when the name is edited from tldraw's own UI.
import {
  atom,
  computed,
  createTLCurrentUser,
  createUserId,
  getUserPreferences,
  setUserPreferences,
  UserRecordType,
  type Signal,
  type TLCurrentUser,
  type TLUser,
  type TLUserPreferences,
} from 'tldraw';
import { setParticipant, type Participant } from './participant';

export interface TldrawParticipant {
  currentUser: TLCurrentUser;
  $user: Signal<TLUser | null>;
  /** call when the participant changes outside tldraw (our name/colour editor, another tab) */
  update(p: Participant): void;
}

export function createTldrawParticipant(initial: Participant): TldrawParticipant {
  // Editor settings (dark mode, snapping…) stay in tldraw's own storage; identity is ours.
  const $prefs = atom<TLUserPreferences>('participant prefs', {
    ...getUserPreferences(),
    id: initial.id,
    name: initial.name,
    color: initial.color,
  });
  const currentUser = createTLCurrentUser({
    userPreferences: $prefs,
    setUserPreferences(next) {
      const prev = $prefs.get();
      $prefs.set({ ...next, id: prev.id });
      setUserPreferences({ ...next, id: prev.id });
      if ((next.name && next.name !== prev.name) || (next.color && next.color !== prev.color)) {
        setParticipant({ id: prev.id, name: next.name ?? prev.name!, color: next.color ?? prev.color! });
      }
    },
  });
  const $user = computed<TLUser | null>('participant user record', () => {
    const p = $prefs.get();
    return UserRecordType.create({ id: createUserId(p.id), name: p.name ?? '', color: p.color ?? '#000000' });
  });
  return {
    currentUser,
    $user,
    update(p) {
      const prev = $prefs.get();
      if (prev.name === p.name && prev.color === p.color) return;
      $prefs.set({ ...prev, name: p.name, color: p.color });
    },
  };
}
