'use client';
import { useSyncExternalStore } from 'react';
import { getParticipant, setParticipant, subscribeParticipant, type Participant } from './participant';

/** The local participant, or null during server rendering (localStorage is browser-only). */
export function useParticipant(): [Participant | null, (p: Participant) => void] {
  const p = useSyncExternalStore(subscribeParticipant, getParticipant, () => null);
  return [p, setParticipant];
}
