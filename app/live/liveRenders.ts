// Renders and engine state as UI state: one tldraw atom per frame, so shape components and the
// HUD re-render when a render for their frame arrives. Never written to the shared document.
import { atom, type Atom } from 'tldraw';
import { EngineStatus, type FrameStatus, type RenderResult } from '../../lib/protocol/events';
import { RENDER_HISTORY_LENGTH } from '../../lib/protocol/limits';

export interface RenderEntry {
  frameId: string;
  seq: number;
  /** object URL of the JPEG; revoked when the entry leaves the history */
  url: string;
  width: number;
  height: number;
  seed: number;
  model: string;
  /** cluster mode: the render worker that made it */
  worker?: string;
  /** server clock: the order of renders of one frame, whoever sent the snapshot */
  renderedAt: number;
  receivedAt: number;
  /** snapshot → render on screen for our own snapshots; the server's total for others' */
  latencyMs: number;
  latencySource: 'own' | 'server';
  inferenceMs: number;
}

/** The engine status with the optional warm-up time the server may add to `engine:status`. */
export type LiveEngineStatus = EngineStatus & { warmupMs?: number };

/** Reads an `engine:status` payload, keeping `warmupMs` even where the schema does not list it. */
export function readEngineStatus(raw: unknown): LiveEngineStatus | null {
  const s = EngineStatus.safeParse(raw);
  if (!s.success) return null;
  const warmupMs = (raw as { warmupMs?: unknown }).warmupMs;
  return typeof warmupMs === 'number' && Number.isFinite(warmupMs) ? { ...s.data, warmupMs } : s.data;
}

export interface FrameRenders {
  /** oldest first, at most `historyLength` */
  history: readonly RenderEntry[];
  /** the history entry on screen; null follows the newest */
  viewIndex: number | null;
  /** renders that arrived while paused (`holdWhilePaused`), oldest first: they join the history
   * when the frame goes back to live, so positions in it stay put while someone looks back */
  held?: readonly RenderEntry[];
  status: Pick<FrameStatus, 'state' | 'message'> | null;
  /** receive times of recent renders, for renders/s */
  arrivals: readonly number[];
}

const EMPTY: FrameRenders = { history: [], viewIndex: null, held: [], status: null, arrivals: [] };

/** The message of a frame:status that is not a failure (e.g. "this frame asks for model X but the
 * server runs Y": the server repeats it on every status while it holds), or null. Failures are
 * the HUD's state line instead. */
export function frameNotice(frame: FrameRenders | null): string | null {
  const s = frame?.status;
  return s?.message && s.state !== 'error' && s.state !== 'no-model' ? s.message : null;
}

export const FPS_WINDOW_MS = 3000;

export interface LiveRendersOptions {
  historyLength?: number;
  now?: () => number;
  createUrl?: (blob: Blob) => string;
  revokeUrl?: (url: string) => void;
  /** while a frame is paused on an older render, keep new renders aside (`held`) instead of
   * shifting the history under the viewer; they join it on `live()` */
  holdWhilePaused?: boolean;
}

/** A render is newer if the server finished it later; seq breaks ties between equal clocks. */
export function isNewerRender(
  candidate: Pick<RenderEntry, 'renderedAt' | 'seq'>,
  shown: Pick<RenderEntry, 'renderedAt' | 'seq'> | undefined,
): boolean {
  if (!shown) return true;
  if (candidate.renderedAt !== shown.renderedAt) return candidate.renderedAt > shown.renderedAt;
  return candidate.seq > shown.seq;
}

export class LiveRenders {
  readonly engine = atom<LiveEngineStatus | null>('live engine status', null);
  private readonly frames = new Map<string, Atom<FrameRenders>>();
  /** renders of drafts (prompt typing that went on), by frame: never kept in the history */
  private readonly dropped = new Map<string, Set<number>>();
  private readonly historyLength: number;
  private readonly now: () => number;
  private readonly createUrl: (blob: Blob) => string;
  private readonly revokeUrl: (url: string) => void;
  private readonly holdWhilePaused: boolean;

  constructor(opts: LiveRendersOptions = {}) {
    this.holdWhilePaused = opts.holdWhilePaused ?? false;
    this.historyLength = opts.historyLength ?? RENDER_HISTORY_LENGTH;
    this.now = opts.now ?? Date.now;
    this.createUrl = opts.createUrl ?? ((b) => URL.createObjectURL(b));
    this.revokeUrl = opts.revokeUrl ?? ((u) => URL.revokeObjectURL(u));
  }

  /** The frame's render state (reactive when read inside a tldraw component or `useValue`). */
  get(frameId: string): FrameRenders {
    return this.atomFor(frameId).get();
  }

  /** The render on screen for a frame: the viewed history entry, or the newest. */
  shown(frameId: string): RenderEntry | null {
    const f = this.get(frameId);
    if (f.history.length === 0) return null;
    return f.history[f.viewIndex ?? f.history.length - 1] ?? null;
  }

  /** Takes a render from the server. Returns false (and keeps nothing) when it is not newer than
   * the newest one held for its frame: a late render must never replace a fresher picture. */
  addRender(r: RenderResult, ownClientId?: string): boolean {
    const a = this.atomFor(r.frameId);
    const cur = a.get();
    if (!isNewerRender(r, cur.held?.at(-1) ?? cur.history.at(-1))) return false;
    if (this.dropped.get(r.frameId)?.has(r.seq)) return false;
    const entry = this.entry(r, ownClientId);
    const arrivals = [...cur.arrivals.filter((t) => t > entry.receivedAt - FPS_WINDOW_MS), entry.receivedAt];
    if (this.holdWhilePaused && cur.viewIndex !== null) {
      let held = [...(cur.held ?? []), entry];
      if (held.length > this.historyLength) {
        for (const old of held.slice(0, held.length - this.historyLength)) this.revokeUrl(old.url);
        held = held.slice(-this.historyLength);
      }
      a.set({ ...cur, held, arrivals });
      return true;
    }
    let history = [...cur.history, entry];
    let viewIndex = cur.viewIndex;
    const overflow = history.length - this.historyLength;
    if (overflow > 0) {
      for (const old of history.slice(0, overflow)) this.revokeUrl(old.url);
      history = history.slice(overflow);
      if (viewIndex !== null) viewIndex = Math.max(0, viewIndex - overflow);
    }
    a.set({ ...cur, history, viewIndex, arrivals });
    return true;
  }

  /**
   * Takes renders made before this tab was here (the server's kept history, fetched over HTTP):
   * merged by server time with what is held, renders already held (same seq) skipped, the newest
   * `historyLength` kept. The render on screen stays the one on screen. Returns how many were added.
   */
  addPast(frameId: string, renders: readonly RenderResult[]): number {
    const a = this.atomFor(frameId);
    const cur = a.get();
    const known = new Set([...cur.history, ...(cur.held ?? [])].map((e) => e.seq).concat([...(this.dropped.get(frameId) ?? [])]));
    const added = renders.filter((r) => r.frameId === frameId && !known.has(r.seq)).map((r) => this.entry(r));
    if (added.length === 0) return 0;
    const viewed = cur.viewIndex === null ? null : cur.history[cur.viewIndex];
    let history = [...cur.history, ...added].sort((x, y) => (isNewerRender(x, y) ? 1 : isNewerRender(y, x) ? -1 : 0));
    const overflow = history.length - this.historyLength;
    if (overflow > 0) {
      for (const old of history.slice(0, overflow)) this.revokeUrl(old.url);
      history = history.slice(overflow);
    }
    const at = viewed ? history.indexOf(viewed) : -1;
    const viewIndex = viewed ? Math.max(0, at) : null;
    a.set({ ...cur, history, viewIndex });
    return added.filter((e) => history.includes(e)).length;
  }

  /**
   * Keeps a render out of the history (a draft: it was made at a pause in prompt typing that then
   * went on). Removed if held, unless it is the one being looked at; never added if it comes later.
   */
  drop(frameId: string, seq: number): void {
    let set = this.dropped.get(frameId);
    if (!set) this.dropped.set(frameId, (set = new Set()));
    set.add(seq);
    if (set.size > 4 * this.historyLength) set.delete(set.values().next().value!);
    const a = this.atomFor(frameId);
    const cur = a.get();
    const heldAt = (cur.held ?? []).findIndex((e) => e.seq === seq);
    if (heldAt >= 0) {
      this.revokeUrl(cur.held![heldAt].url);
      a.set({ ...cur, held: cur.held!.filter((_, i) => i !== heldAt) });
      return;
    }
    const at = cur.history.findIndex((e) => e.seq === seq);
    if (at < 0 || cur.viewIndex === at) return;
    this.revokeUrl(cur.history[at].url);
    const history = cur.history.filter((_, i) => i !== at);
    const viewIndex = cur.viewIndex === null ? null : cur.viewIndex > at ? cur.viewIndex - 1 : cur.viewIndex;
    a.set({ ...cur, history, viewIndex });
  }

  setStatus(s: Pick<FrameStatus, 'frameId' | 'state' | 'message'>): void {
    const a = this.atomFor(s.frameId);
    a.set({ ...a.get(), status: { state: s.state, message: s.message } });
  }

  /** Moves through the history; stepping onto the newest follows new renders again. With renders
   * held while paused, the newest kept one is a stop of its own: one step further goes live. */
  step(frameId: string, delta: number): void {
    const a = this.atomFor(frameId);
    const cur = a.get();
    const n = cur.history.length;
    if (n === 0) return;
    const from = cur.viewIndex ?? n - 1;
    if ((cur.held?.length ?? 0) > 0 && delta > 0 && from === n - 1) return this.live(frameId);
    const to = Math.min(n - 1, Math.max(0, from + delta));
    if (to === n - 1 && !cur.held?.length) return this.live(frameId);
    a.set({ ...cur, viewIndex: to });
  }

  /** Back to live: the newest render on screen, the renders held while paused joining the history. */
  live(frameId: string): void {
    const a = this.atomFor(frameId);
    const cur = a.get();
    if (cur.viewIndex === null && !cur.held?.length) return;
    let history = [...cur.history, ...(cur.held ?? [])];
    const overflow = history.length - this.historyLength;
    if (overflow > 0) {
      for (const old of history.slice(0, overflow)) this.revokeUrl(old.url);
      history = history.slice(overflow);
    }
    a.set({ ...cur, history, held: [], viewIndex: null });
  }

  /** Whether the frame is paused on an older render. */
  isPaused(frameId: string): boolean {
    return this.get(frameId).viewIndex !== null;
  }

  /** Renders per second over the last few seconds. */
  fps(frameId: string, now = this.now()): number {
    const recent = this.get(frameId).arrivals.filter((t) => t > now - FPS_WINDOW_MS);
    return recent.length / (FPS_WINDOW_MS / 1000);
  }

  deleteFrame(frameId: string): void {
    const a = this.frames.get(frameId);
    if (!a) return;
    for (const e of [...a.get().history, ...(a.get().held ?? [])]) this.revokeUrl(e.url);
    a.set(EMPTY);
    this.frames.delete(frameId);
    this.dropped.delete(frameId);
  }

  dispose(): void {
    for (const id of [...this.frames.keys()]) this.deleteFrame(id);
  }

  private entry(r: RenderResult, ownClientId?: string): RenderEntry {
    const receivedAt = this.now();
    const own = ownClientId !== undefined && r.sourceClient === ownClientId && r.sentAt !== undefined;
    const bytes = r.image instanceof Uint8Array ? r.image : new Uint8Array(r.image);
    return {
      frameId: r.frameId,
      seq: r.seq,
      url: this.createUrl(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: r.mime })),
      width: r.width,
      height: r.height,
      seed: r.seed,
      model: r.model,
      ...(r.worker && { worker: r.worker }),
      renderedAt: r.renderedAt,
      receivedAt,
      latencyMs: own ? Math.max(0, receivedAt - r.sentAt!) : r.timings.totalMs,
      latencySource: own ? 'own' : 'server',
      inferenceMs: r.timings.inferenceMs,
    };
  }

  private atomFor(frameId: string): Atom<FrameRenders> {
    let a = this.frames.get(frameId);
    if (!a) {
      a = atom<FrameRenders>(`live renders ${frameId}`, EMPTY);
      this.frames.set(frameId, a);
    }
    return a;
  }
}
