'use client';
// Everyone in the room, from awareness (each client publishes its `user` field), me first. A viewer's
// `user` says `role: 'viewer'` (lib/canvas/presence.ts).
import { useEffect, useState } from 'react';
import type { Awareness } from 'y-protocols/awareness';

export interface RoomParticipant {
  clientId: number;
  name: string;
  color: string;
  isSelf: boolean;
  /** 'viewer' for a view-only participant */
  role?: 'viewer';
}

function list(awareness: Awareness): RoomParticipant[] {
  const out: RoomParticipant[] = [];
  for (const [clientId, state] of awareness.getStates()) {
    const user = state?.user as { name?: unknown; color?: unknown; role?: unknown } | undefined;
    if (typeof user?.name !== 'string' || typeof user.color !== 'string') continue;
    out.push({
      clientId,
      name: user.name,
      color: user.color,
      isSelf: clientId === awareness.clientID,
      ...(user.role === 'viewer' ? { role: 'viewer' as const } : {}),
    });
  }
  return out.sort((a, b) => Number(b.isSelf) - Number(a.isSelf) || a.name.localeCompare(b.name));
}

export function useParticipants(awareness: Awareness): RoomParticipant[] {
  const [people, setPeople] = useState(() => list(awareness));
  useEffect(() => {
    // 'change' fires only when a state really changed: cursor moves update `presence`, which
    // would re-render the list 60 times a second, so compare the part we show.
    let last = JSON.stringify(list(awareness));
    const onChange = () => {
      const next = list(awareness);
      const key = JSON.stringify(next);
      if (key !== last) {
        last = key;
        setPeople(next);
      }
    };
    awareness.on('change', onChange);
    onChange();
    return () => awareness.off('change', onChange);
  }, [awareness]);
  return people;
}
