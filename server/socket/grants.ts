// What a socket may do in each room it joined: its grant (role, link version, fixed name), and the
// check that keeps a viewer's y:sync to reading.
import * as decoding from 'lib0/decoding';
import * as Y from 'yjs';
import type { Role } from '../../lib/protocol/access';
import { EV } from '../../lib/protocol/events';
import { MalformedMessageError, parseSyncMessage } from '../rooms/yjsMessages';
import { ClientError } from './ClientError';

/** What a socket may do in one room: its role, the link version it was granted at (a rotated link
 * revokes older ones) and a name fixed by a single-sign-on token. */
export interface Grant {
  role: Role;
  version?: number;
  fixedName?: string;
}

/** A viewer's y:sync: step 1 asks for the room (allowed); a step 2 or update must carry nothing —
 * the empty answer an honest read-only page sends to the server's step 1. */
export function refuseViewerWrites(data: Uint8Array): void {
  let empty: boolean;
  try {
    const msg = parseSyncMessage(data);
    if (msg.type === 'step1') return;
    const { structs, ds } = Y.decodeUpdate(msg.update);
    empty = structs.length === 0 && ds.clients.size === 0;
  } catch (e) {
    if (e instanceof MalformedMessageError) throw new ClientError('malformed-update', `${EV.ySync}: ${e.message}`);
    throw new ClientError('malformed-update', `${EV.ySync}: the update could not be decoded`);
  }
  if (!empty) throw new ClientError('forbidden', `${EV.ySync}: this is a view-only link: changes to the room are not accepted`, { violation: false });
}

/** A socket whose name a single-sign-on token fixes may only show that name: an awareness update
 * whose states carry another `user.name` is refused whole (nothing applied). */
export function refuseOtherNames(data: Uint8Array, fixedName: string): void {
  let names: unknown[];
  try {
    const d = decoding.createDecoder(data);
    names = [];
    for (let n = decoding.readVarUint(d); n > 0; n--) {
      decoding.readVarUint(d); // client id
      decoding.readVarUint(d); // clock
      const state = JSON.parse(decoding.readVarString(d)) as { user?: { name?: unknown } } | null;
      if (state?.user) names.push(state.user.name);
    }
  } catch {
    throw new ClientError('malformed-update', `${EV.yAwareness}: the awareness update could not be decoded`);
  }
  if (names.some((name) => name !== fixedName)) {
    throw new ClientError('invalid-message', `${EV.yAwareness}: your sign-in fixes your name as ${JSON.stringify(fixedName)}; the update was not applied`, { violation: false });
  }
}
