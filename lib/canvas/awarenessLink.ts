// The socket provider's awareness side (y-protocols awareness over `y:awareness`): announce our own
// state, keep it alive with a heartbeat, apply the peers' states the server relays, and forget
// peers that went silent or that we can no longer see (offline).
import * as awarenessProtocol from 'y-protocols/awareness';
import { PRESENCE_TIMEOUT_MS } from '../protocol/limits';

/** Peers drop silent clients after PRESENCE_TIMEOUT_MS, so re-announce well within it. */
const HEARTBEAT_MS = Math.floor(PRESENCE_TIMEOUT_MS / 3);

export interface AwarenessLinkOptions {
  /** origin of the updates applied here (the provider), so our own listener skips them */
  origin: unknown;
  /** emits an encoded awareness update (only while joined; the provider decides) */
  send: (update: Uint8Array) => void;
  /** whether we are joined to the room: the heartbeat only announces then */
  isJoined: () => boolean;
  /** destroy the awareness on stop (it was created for this provider) */
  owned: boolean;
}

export class AwarenessLink {
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private readonly offUpdate: () => void;

  constructor(
    readonly awareness: awarenessProtocol.Awareness,
    private readonly opts: AwarenessLinkOptions,
  ) {
    const onUpdate = (
      { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
      origin: unknown,
    ) => {
      if (origin === opts.origin) return;
      // Only our own state is ours to announce; the server relays everyone else's.
      const self = awareness.clientID;
      if (![...added, ...updated, ...removed].includes(self)) return;
      opts.send(awarenessProtocol.encodeAwarenessUpdate(awareness, [self]));
    };
    awareness.on('update', onUpdate);
    this.offUpdate = () => awareness.off('update', onUpdate);

    this.heartbeat = setInterval(() => {
      // setLocalState bumps the clock even when nothing changed, which is what keeps us alive
      // on the other side.
      const state = awareness.getLocalState();
      if (state !== null && opts.isJoined()) awareness.setLocalState(state);
      this.dropSilentPeers();
    }, HEARTBEAT_MS);
  }

  /** On (re)join. Set, not just re-send: the others hold our removal at the old clock, which a
   * re-sent state would not beat. The update listener sends it. */
  announce(): void {
    const state = this.awareness.getLocalState();
    if (state !== null) this.awareness.setLocalState(state);
  }

  /** A `y:awareness` payload from the server. */
  receive(data: Uint8Array): void {
    try {
      awarenessProtocol.applyAwarenessUpdate(this.awareness, data, this.opts.origin);
    } catch (e) {
      console.warn('[livecanvas] dropped a malformed awareness message:', e);
    }
  }

  /** Offline: we can no longer tell who is still there. Forget the peers entirely (meta too), so
   * that the states the server sends on rejoin are accepted even if their clocks did not move. */
  forgetPeers(): void {
    const others = [...this.awareness.getStates().keys()].filter((id) => id !== this.awareness.clientID);
    awarenessProtocol.removeAwarenessStates(this.awareness, others, this.opts.origin);
    for (const id of others) this.awareness.meta.delete(id);
  }

  /** Tell the others we left (while still joined), so our cursor disappears at once. */
  leave(): void {
    awarenessProtocol.removeAwarenessStates(this.awareness, [this.awareness.clientID], 'destroy');
  }

  stop(): void {
    clearInterval(this.heartbeat);
    this.offUpdate();
    if (this.opts.owned) this.awareness.destroy();
  }

  /** y-protocols only times peers out after 30 s; we want a closed tab's cursor gone within a few
   * seconds even if the server's removal message was lost. */
  private dropSilentPeers() {
    const now = Date.now();
    const silent: number[] = [];
    for (const [id, meta] of this.awareness.meta) {
      if (id === this.awareness.clientID || !this.awareness.states.has(id)) continue;
      if (now - meta.lastUpdated > PRESENCE_TIMEOUT_MS) silent.push(id);
    }
    if (silent.length) awarenessProtocol.removeAwarenessStates(this.awareness, silent, this.opts.origin);
  }
}
