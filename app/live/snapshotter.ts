// Sends `frame:snapshot` when the content or the settings of a live frame change. Only changes
// made by the local person (store source 'user') count, so of everyone in the room exactly the
// client that drew sends; remote changes arrive through Yjs with source 'remote'.
// Typing a prompt renders once typing pauses (not on every keystroke), and a frame with nothing
// drawn in it is never sent: there is nothing to render but noise.
import type { Editor, TLRecord, TLShape, TLShapeId } from 'tldraw';
import { collectFrameContent, frameContentHash, framePageBox, isLiveFrame } from '../../lib/canvas/liveFrameContent';
import type { LiveFrameShape } from '../../lib/canvas/liveFrameSchema';
import type { FrameSnapshot, SnapshotAck } from '../../lib/protocol/events';
import { SNAPSHOT_MIN_INTERVAL_MS } from '../../lib/protocol/limits';
import { captureFrameJpeg, type CapturedFrame } from './captureFrame';
import { FramePacer, type PacerClock, realClock } from './framePacer';


export type SnapshotMessage = Omit<FrameSnapshot, 'roomId' | 'image'> & { image: Uint8Array };
export type SendSnapshot = (snap: SnapshotMessage) => Promise<SnapshotAck | undefined>;

export interface SnapshotterOptions {
  minIntervalMs?: number;
  capture?: (editor: Editor, frame: LiveFrameShape, ids: readonly TLShapeId[]) => Promise<CapturedFrame>;
  clock?: PacerClock;
  /** wall clock for seq and sentAt (ms since epoch) */
  wallClock?: () => number;
  /**
   * Whether a snapshot can be taken by a renderer now (joined to the room, engine able to
   * render). While it is false, changed frames are remembered without being captured, and sent
   * by `resume()`: capturing every 50 ms for nobody would only burn the drawing person's CPU.
   */
  canSend?: () => boolean;
  onError?: (frameId: string, message: string) => void;
  /** how long prompt typing must pause before the frame is rendered */
  promptDebounceMs?: number;
  /** A render sent at a pause in prompt typing was followed by more typing (nothing else changed)
   * within DRAFT_WINDOW_MS: it was an intermediate step, not a result to keep in the history. */
  onSuperseded?: (frameId: string, seq: number) => void;
}

/** Refusals that say nothing about the snapshot itself, so the same content may pass later. */
const TRANSIENT_REFUSALS = new Set(['not-joined', 'unknown-frame', 'rate-limited', 'server-error']);
/** First wait before sending again after a transient refusal or a missing ack; doubles each time. */
export const SNAPSHOT_RETRY_MS = 1_000;
/** Consecutive retries of one frame before it waits for a rejoin, the engine or the next change. */
export const SNAPSHOT_MAX_RETRIES = 3;
/** A prompt edit is rendered once typing has paused this long (the prompt itself syncs at once). */
export const PROMPT_DEBOUNCE_MS = 600;
/** A typing-pause render followed this soon by the next one (prompt edits only) was a draft. */
export const DRAFT_WINDOW_MS = 10_000;

/** Whether a frame record changed only in its prompt (a keystroke in the prompt field). */
function onlyPromptChanged(prev: LiveFrameShape, next: LiveFrameShape): boolean {
  if (prev.props.prompt === next.props.prompt) return false;
  if (prev.x !== next.x || prev.y !== next.y || prev.parentId !== next.parentId || prev.rotation !== next.rotation) return false;
  const a = prev.props as unknown as Record<string, unknown>;
  const b = next.props as unknown as Record<string, unknown>;
  return Object.keys(b).every((k) => k === 'prompt' || a[k] === b[k]);
}

export class LiveFrameSnapshotter {
  private readonly pacer: FramePacer;
  /** hash of the content the server last took (or is being sent): the same content is not sent twice */
  private readonly lastHash = new Map<string, string>();
  private readonly lastMembers = new Map<string, Set<TLShapeId>>();
  private readonly lastSeq = new Map<string, number>();
  private readonly forced = new Set<string>();
  /** frames whose latest content has not reached a renderer: sent again by `resume()` */
  private readonly waiting = new Set<string>();
  private readonly retries = new Map<string, { count: number; timer: unknown }>();
  /** frames whose prompt is being typed: marked when the typing pauses */
  private readonly typing = new Map<string, unknown>();
  /** frames whose next snapshot is due to a pause in prompt typing */
  private readonly typedDue = new Set<string>();
  /** the last snapshot of a frame, when it was a typing-pause one with nothing else changed since */
  private readonly draft = new Map<string, { seq: number; at: number }>();
  private readonly capture: NonNullable<SnapshotterOptions['capture']>;
  private readonly wallClock: () => number;
  private readonly clock: PacerClock;
  private readonly canSend: () => boolean;
  private stopListening: (() => void) | null = null;
  private disposed = false;
  /** snapshots sent, for the HUD and tests */
  sent = 0;

  constructor(
    private readonly editor: Editor,
    private readonly send: SendSnapshot,
    private readonly opts: SnapshotterOptions = {},
  ) {
    this.capture = opts.capture ?? captureFrameJpeg;
    this.wallClock = opts.wallClock ?? Date.now;
    this.clock = opts.clock ?? realClock;
    this.canSend = opts.canSend ?? (() => true);
    this.pacer = new FramePacer(
      (id) => this.snapshot(id),
      opts.minIntervalMs ?? SNAPSHOT_MIN_INTERVAL_MS,
      this.clock,
    );
  }

  start(): this {
    this.stopListening = this.editor.store.listen(
      ({ changes }) => {
        for (const rec of Object.values(changes.added)) this.touched(rec, null);
        for (const [from, to] of Object.values(changes.updated)) this.touched(to, from);
        for (const rec of Object.values(changes.removed)) this.removed(rec);
      },
      { source: 'user', scope: 'document' },
    );
    return this;
  }

  /** Sends a snapshot of the frame even if nothing changed (the "render now" button). */
  request(frameId: string): void {
    this.forced.add(frameId);
    this.mark(frameId);
  }

  /** A change other than prompt typing: the frame's last render is no draft any more. */
  private mark(frameId: string): void {
    this.draft.delete(frameId);
    this.pacer.mark(frameId);
  }

  /** Frames whose latest content no renderer has taken yet (offline, refused, engine unable). */
  waitingFrames(): string[] {
    return [...this.waiting];
  }

  /** Sends the waiting frames: call when the room is (re)joined or the engine becomes ready. */
  resume(): void {
    const ids = [...this.waiting];
    this.waiting.clear();
    for (const id of ids) {
      this.cancelRetry(id);
      this.request(id);
    }
  }

  dispose(): void {
    this.disposed = true;
    this.stopListening?.();
    this.stopListening = null;
    this.pacer.dispose();
    for (const id of [...this.retries.keys()]) this.cancelRetry(id);
    for (const id of [...this.typing.keys()]) this.cancelTyping(id);
  }

  /** Renders the frame once prompt typing has paused for `promptDebounceMs`. */
  private typed(frameId: string): void {
    this.cancelTyping(frameId);
    const timer = this.clock.setTimeout(() => {
      this.typing.delete(frameId);
      if (this.disposed) return;
      this.typedDue.add(frameId);
      this.pacer.mark(frameId);
    }, this.opts.promptDebounceMs ?? PROMPT_DEBOUNCE_MS);
    this.typing.set(frameId, timer);
  }

  private cancelTyping(frameId: string): void {
    const t = this.typing.get(frameId);
    if (t !== undefined) this.clock.clearTimeout(t);
    this.typing.delete(frameId);
  }

  private touched(rec: TLRecord, prev: TLRecord | null): void {
    if (rec.typeName !== 'shape') return;
    if (isLiveFrame(rec)) {
      if (isLiveFrame(prev) && onlyPromptChanged(prev, rec)) this.typed(rec.id);
      else this.mark(rec.id);
      return;
    }
    this.markFramesOf(rec);
    if (prev && prev.typeName === 'shape') this.markFramesOf(prev);
    // a sibling lying over a live frame shows in it
    const bounds = this.editor.getShapePageBounds(rec.id);
    if (!bounds) return;
    for (const s of this.editor.getSortedChildIdsForParent(rec.parentId)) {
      const frame = this.editor.getShape(s);
      if (isLiveFrame(frame) && bounds.collides(framePageBox(this.editor, frame))) {
        this.mark(frame.id);
      }
    }
  }

  private removed(rec: TLRecord): void {
    if (rec.typeName !== 'shape') return;
    if (isLiveFrame(rec)) {
      this.pacer.forget(rec.id);
      this.cancelTyping(rec.id);
      this.typedDue.delete(rec.id);
      this.draft.delete(rec.id);
      this.lastHash.delete(rec.id);
      this.lastMembers.delete(rec.id);
      this.waiting.delete(rec.id);
      this.cancelRetry(rec.id);
      return;
    }
    this.markFramesOf(rec);
  }

  /** Marks the live frame a shape is drawn into and any frame that showed it last time. */
  private markFramesOf(rec: TLShape): void {
    let parentId: string = rec.parentId;
    while (parentId.startsWith('shape:')) {
      const parent = this.editor.getShape(parentId as TLShapeId);
      if (!parent) break;
      if (isLiveFrame(parent)) this.mark(parent.id);
      parentId = parent.parentId;
    }
    for (const [frameId, members] of this.lastMembers) {
      if (members.has(rec.id)) this.mark(frameId);
    }
  }

  private nextSeq(frameId: string): number {
    // Wall-clock based so that it keeps increasing across reloads and stays comparable with other
    // clients' snapshots of the same frame (the server ignores seqs not above the last accepted).
    const seq = Math.max((this.lastSeq.get(frameId) ?? 0) + 1, Math.floor(this.wallClock()));
    this.lastSeq.set(frameId, seq);
    return seq;
  }

  private async snapshot(frameId: string): Promise<void> {
    const frame = this.editor.getShape(frameId as TLShapeId);
    if (!isLiveFrame(frame)) return;
    const content = collectFrameContent(this.editor, frame);
    const hash = frameContentHash(this.editor, frame, content);
    this.lastMembers.set(frameId, content.memberIds);
    const force = this.forced.delete(frameId);
    const fromTyping = this.typedDue.delete(frameId);
    // nothing drawn in the frame: a render would be noise (it is sent once something is drawn)
    if (content.records.length === 0) {
      this.waiting.delete(frameId);
      return;
    }
    if (!force && this.lastHash.get(frameId) === hash) return;
    if (!this.canSend()) {
      this.waiting.add(frameId);
      return;
    }
    this.waiting.delete(frameId);
    // Recorded before the await so that changes arriving meanwhile compare against what is in
    // flight; forgotten again below if the server does not take it.
    this.lastHash.set(frameId, hash);

    // The latency the HUD shows starts when the person's change starts being captured.
    const sentAt = this.wallClock();
    let captured: CapturedFrame;
    try {
      captured = await this.capture(this.editor, frame, content.exportIds);
    } catch (e) {
      this.lastHash.delete(frameId);
      this.opts.onError?.(frameId, `could not capture the frame: ${(e as Error).message}`);
      return;
    }
    const seq = this.nextSeq(frameId);
    this.sent++;
    const prevDraft = this.draft.get(frameId);
    if (fromTyping && prevDraft && this.clock.now() - prevDraft.at <= DRAFT_WINDOW_MS) {
      this.opts.onSuperseded?.(frameId, prevDraft.seq);
    }
    if (fromTyping) this.draft.set(frameId, { seq, at: this.clock.now() });
    else this.draft.delete(frameId);
    const ack = await this.send({
      frameId,
      seq,
      hash,
      mime: captured.mime,
      image: captured.bytes,
      sentAt,
    });
    if (this.disposed) return;
    if (ack?.ok && ack.outcome === 'stale' && typeof ack.lastSeq === 'number') {
      // Another client's clock is ahead: continue above their seq and send this content again.
      this.lastSeq.set(frameId, Math.max(seq, ack.lastSeq));
      this.lastHash.delete(frameId);
      if (fromTyping) this.typedDue.add(frameId);
      this.draft.delete(frameId);
      this.pacer.mark(frameId);
    } else if (ack?.ok && ack.outcome !== 'not-rendered') {
      this.cancelRetry(frameId);
    } else {
      // No answer (offline, timed out), a refusal, or an engine that cannot render: this content
      // has not reached a renderer, so it is sent again on rejoin / engine ready / next change.
      if (this.lastHash.get(frameId) === hash) this.lastHash.delete(frameId);
      this.waiting.add(frameId);
      const transient = !ack || (!ack.ok && TRANSIENT_REFUSALS.has(ack.error?.code ?? ''));
      if (transient) this.scheduleRetry(frameId);
    }
  }

  /** Sends a frame again after a transient failure, backing off, while nothing else resends it. */
  private scheduleRetry(frameId: string): void {
    const r = this.retries.get(frameId) ?? { count: 0, timer: null };
    if (r.timer != null || r.count >= SNAPSHOT_MAX_RETRIES) return;
    const wait = SNAPSHOT_RETRY_MS * 2 ** r.count;
    r.count++;
    r.timer = this.clock.setTimeout(() => {
      r.timer = null;
      if (this.disposed || !this.waiting.has(frameId)) return;
      this.waiting.delete(frameId);
      this.request(frameId);
    }, wait);
    this.retries.set(frameId, r);
  }

  private cancelRetry(frameId: string): void {
    const r = this.retries.get(frameId);
    if (r?.timer != null) this.clock.clearTimeout(r.timer);
    this.retries.delete(frameId);
  }
}
