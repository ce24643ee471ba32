// Bookkeeping of the upload limits (docs/security.md "Uploads"): slots for uploads in progress,
// per client address and server-wide, and per-room quota reservations, so that the bytes of
// uploads still arriving count against the room before their bodies are accepted.

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Uploads in progress: at most `max` at once, at most `perClient` of them from one address. */
export class UploadSlots {
  private total = 0;
  private readonly byClient = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly perClient: number,
  ) {}

  get inUse(): number {
    return this.total;
  }

  /** Take a slot for `client`; returns its release (idempotent) or throws a 429 HttpError. */
  acquire(client: string): () => void {
    const mine = this.byClient.get(client) ?? 0;
    const retry = { 'retry-after': '5' };
    if (mine >= this.perClient) {
      throw new HttpError(429, `too many uploads at once from your address (${this.perClient} at most, UPLOAD_CONCURRENCY_PER_CLIENT); wait for one to finish`, retry);
    }
    if (this.total >= this.max) {
      throw new HttpError(429, `the server is receiving ${this.max} uploads at once (UPLOAD_CONCURRENCY); try again in a few seconds`, retry);
    }
    this.total++;
    this.byClient.set(client, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const n = (this.byClient.get(client) ?? 1) - 1;
      if (n > 0) this.byClient.set(client, n);
      else this.byClient.delete(client);
    };
  }
}

/** Bytes promised to uploads in progress, per room. */
export class QuotaReservations {
  private readonly reserved = new Map<string, number>();

  of(roomId: string): number {
    return this.reserved.get(roomId) ?? 0;
  }

  /** Reserve `bytes` for `roomId`; returns a handle to shrink (once the real size is known) and
   * release (idempotent; always call it, whatever happens). */
  reserve(roomId: string, bytes: number): { resize(bytes: number): void; release(): void } {
    let held = bytes;
    this.add(roomId, held);
    return {
      resize: (n: number) => {
        if (held === 0) return;
        this.add(roomId, n - held);
        held = n;
      },
      release: () => {
        this.add(roomId, -held);
        held = 0;
      },
    };
  }

  private add(roomId: string, delta: number): void {
    const n = this.of(roomId) + delta;
    if (n > 0) this.reserved.set(roomId, n);
    else this.reserved.delete(roomId);
  }
}

/** Bytes of uploads being sent to downloaders, held in memory until each response is written
 * out: a file requested by many (slow) readers at once is held once; past `max` bytes of distinct
 * files in flight, further downloads are refused (503) until some finish. */
export class ServeBudget {
  private readonly inFlight = new Map<string, { data: Promise<Buffer | undefined>; bytes: number; readers: number }>();
  private bytes = 0;

  constructor(private readonly max: number) {}

  get inUse(): number {
    return this.bytes;
  }

  /** The file's bytes (read with `load` unless someone is downloading it already) and a release
   * to call when the response is done; null when `load` finds nothing; throws a 503 HttpError past
   * the budget. A file counts with its stored `size` from the start of its load, so readers
   * arriving while it loads share that load. */
  async open(key: string, size: number, load: () => Promise<Buffer | undefined>): Promise<{ data: Buffer; release(): void } | null> {
    let entry = this.inFlight.get(key);
    if (!entry) {
      if (this.bytes + size > this.max && this.bytes > 0) {
        throw new HttpError(503, `the server is sending ${Math.round(this.bytes / 1048576)} MB of uploads already (UPLOAD_SERVE_MB); try again in a few seconds`, { 'retry-after': '5' });
      }
      entry = { data: load(), bytes: size, readers: 0 };
      this.inFlight.set(key, entry);
      this.bytes += size;
    }
    entry.readers++;
    const held = entry;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (--held.readers > 0) return;
      this.inFlight.delete(key);
      this.bytes -= held.bytes;
    };
    let data: Buffer | undefined;
    try {
      data = await held.data;
    } catch (e) {
      release();
      throw e;
    }
    if (!data) release();
    return data ? { data, release } : null;
  }
}
