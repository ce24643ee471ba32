// One file of a hub preset into the partial folder, resumably and verifiably: Range requests that
// continue a `.part` file from the bytes on disk, redirects followed by hand (so the hub's own
// answer, with X-Linked-Size / X-Linked-Etag / X-Repo-Commit, is seen and the token never leaves
// the hub's origin), retries with backoff, and the size and sha256 checks before a file counts.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, truncate } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PresetFile } from '../lib/diffusion/presets';
import { DownloadError, type DownloadProgress } from './downloadTypes';
import { sizeOf, type InstalledFile } from './partialFolder';

/** One repo files are fetched from (the preset's own or one of its `sources`) and the commit its
 * revision resolved to. */
export interface SourceState {
  repo: string;
  /** what the manifest pins: a commit sha or a branch */
  revision: string;
  /** the commit this run downloads, from the hub's first X-Repo-Commit for this repo */
  commit: string | null;
  /** the commit the partial download on disk came from, when it recorded one */
  partialCommit: string | null;
}

export interface FileContext {
  /** the preset's name, for messages */
  preset: string;
  endpoint: string;
  token: string | undefined;
  partialDir: string;
  progress: DownloadProgress;
  maxAttempts: number;
  retryDelayMs: number;
  saveProgress: () => Promise<void>;
}

/** A failure worth another attempt (the next one resumes from the bytes on disk). */
class RetryableError extends Error {}

/** Fetches `file` from `source` (at `file.from.path` when it has one) into the partial folder at `file.path`. */
export async function downloadFile(ctx: FileContext, source: SourceState, file: PresetFile): Promise<InstalledFile | 'missing-optional'> {
  const target = join(ctx.partialDir, file.path);
  const part = `${target}.part`;
  await mkdir(dirname(target), { recursive: true });
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await attemptFile(ctx, source, file, part);
      if (result === 'missing-optional') return result;
      await rename(part, target);
      return result;
    } catch (err) {
      if (!(err instanceof RetryableError) || attempt >= ctx.maxAttempts) {
        if (err instanceof RetryableError) {
          throw new DownloadError('network', `${file.path}: ${err.message}; gave up after ${attempt} attempts. Run the same command again to resume from the bytes already received.`);
        }
        throw err;
      }
      ctx.progress.retry({ path: file.path, attempt: attempt + 1, reason: err.message });
      await sleep(Math.min(ctx.retryDelayMs * 2 ** (attempt - 1), 10_000));
    }
  }
}

async function attemptFile(ctx: FileContext, source: SourceState, file: PresetFile, part: string): Promise<InstalledFile | 'missing-optional'> {
  // once the hub has resolved a branch to a commit, fetch everything else at that commit
  const revision = source.commit ?? source.revision;
  const repoPath = file.from?.path ?? file.path;
  const url = `${ctx.endpoint}/${source.repo}/resolve/${encodeURIComponent(revision)}/${repoPath.split('/').map(encodeURIComponent).join('/')}`;
  /** the file as messages name it: its path in the folder, and where it comes from when that is another repo */
  const label = file.from ? `${file.path} (${repoPath} in ${source.repo})` : file.path;
  let offset = (await sizeOf(part)) ?? 0;
  if (file.size !== null && offset > file.size) {
    await truncate(part, 0);
    offset = 0;
  }

  const { response, linkedSize, linkedEtag } = await request(url, offset, ctx, source);
  const status = response.status;
  if (status === 404) {
    await response.body?.cancel();
    if (file.optional) return 'missing-optional';
    throw new DownloadError('not-found', `${file.from ? repoPath : file.path} is not in ${source.repo} at revision ${source.revision} (HTTP 404 from ${ctx.endpoint}); the preset manifest may be out of date`);
  }
  if (status === 401 || status === 403) {
    await response.body?.cancel();
    throw new DownloadError(
      'auth',
      `${ctx.endpoint} refused ${source.repo} (HTTP ${status}): ${ctx.token ? 'the token in HF_TOKEN has no access — accept the model terms on its page or use another token' : 'this repo needs a token — set HF_TOKEN to a Hugging Face access token'}`,
    );
  }
  if (status === 429 || status >= 500) {
    await response.body?.cancel();
    throw new RetryableError(`HTTP ${status} from ${new URL(response.url || url).host}`);
  }

  let expectedSize = file.size;
  const checkSize = (hubSize: number | null, what: string) => {
    if (hubSize === null) return;
    if (expectedSize !== null && hubSize !== expectedSize) {
      throw new DownloadError('size', `${file.path}: the manifest says ${expectedSize} bytes but ${what} says ${hubSize}; the file changed at revision ${source.revision} of ${source.repo}, so nothing was installed. Update models/presets.json.`);
    }
    expectedSize = hubSize;
  };
  checkSize(linkedSize, 'the hub (X-Linked-Size)');

  if (status === 416) {
    // Nothing left to send: either the .part is already complete or it is garbage.
    await response.body?.cancel();
    const total = parseContentRangeTotal(response.headers.get('content-range'));
    checkSize(total, 'the hub (Content-Range)');
    if (expectedSize === null || offset !== expectedSize) {
      await rm(part, { force: true });
      throw new RetryableError(`the server rejected resuming at byte ${offset}; starting ${file.path} over`);
    }
  } else if (status === 206) {
    const range = parseContentRange(response.headers.get('content-range'));
    if (!range || range.start !== offset) {
      await response.body?.cancel();
      await rm(part, { force: true });
      throw new RetryableError(`the server answered a different range than asked (${response.headers.get('content-range')}); starting over`);
    }
    checkSize(range.total, 'the hub (Content-Range)');
  } else if (status === 200) {
    if (offset > 0) {
      // The server ignored Range: start the file over.
      await truncate(part, 0);
      offset = 0;
    }
    const length = response.headers.get('content-length');
    if (length !== null && !response.headers.get('content-encoding')) checkSize(Number(length), 'the hub (Content-Length)');
  } else {
    await response.body?.cancel();
    throw new DownloadError('http', `${file.path}: unexpected HTTP ${status} from ${response.url || url}`);
  }

  ctx.progress.fileStart({ path: file.path, size: expectedSize, resumeFrom: offset });

  // Hash what is already on disk, then the new bytes as they arrive.
  const hash = createHash('sha256');
  if (offset > 0) {
    for await (const chunk of createReadStream(part, { end: offset - 1 })) hash.update(chunk as Buffer);
  }
  let received = offset;
  if (status !== 416 && response.body) {
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        received += chunk.length;
        ctx.progress.advance(chunk.length);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), meter, createWriteStream(part, { flags: offset > 0 ? 'a' : 'w' }));
    } catch (err) {
      throw new RetryableError(`connection lost after ${received} bytes (${(err as Error).message})`);
    }
  }

  if (expectedSize !== null && received < expectedSize) {
    throw new RetryableError(`transfer ended early at ${received} of ${expectedSize} bytes`);
  }
  if (expectedSize !== null && received > expectedSize) {
    await rm(part, { force: true });
    throw new DownloadError('size', `${file.path}: received ${received} bytes, expected ${expectedSize}; the bad download was deleted and nothing was installed`);
  }

  const digest = hash.digest('hex');
  const expectedSha = file.sha256 ?? linkedEtag;
  const shaFrom = file.sha256 ? 'manifest' : linkedEtag ? 'hub' : null;
  if (expectedSha && digest !== expectedSha) {
    await rm(part, { force: true });
    throw new DownloadError(
      'checksum',
      `${label}: sha256 mismatch — expected ${expectedSha} (${shaFrom === 'manifest' ? 'models/presets.json' : 'the hub'}), got ${digest}. The bad download was deleted and nothing was installed; run the command again to retry, and if it fails again the server (${ctx.endpoint}) is sending different bytes than expected.`,
    );
  }
  ctx.progress.fileDone({ path: file.path, size: received });
  return { path: file.path, size: received, sha256: digest, verifiedAgainst: expectedSha ? shaFrom : null };
}

/** GET with Range, following redirects by hand so that the hub's own response (which carries
 * X-Linked-Size / X-Linked-Etag) is seen and the token never leaves the hub's origin. */
async function request(url: string, offset: number, ctx: FileContext, source: SourceState) {
  const hubOrigin = new URL(ctx.endpoint).origin;
  let current = url;
  let linkedSize: number | null = null;
  let linkedEtag: string | null = null;
  for (let hop = 0; hop < 10; hop++) {
    const headers: Record<string, string> = { 'user-agent': 'livecanvas-models/1', 'accept-encoding': 'identity' };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    if (ctx.token && new URL(current).origin === hubOrigin) headers.authorization = `Bearer ${ctx.token}`;
    let response: Response;
    try {
      response = await fetch(current, { headers, redirect: 'manual' });
    } catch (err) {
      const cause = (err as { cause?: Error }).cause;
      throw new RetryableError(`cannot reach ${new URL(current).host}: ${cause?.message ?? (err as Error).message}`);
    }
    const size = response.headers.get('x-linked-size');
    if (size !== null && linkedSize === null) linkedSize = Number(size);
    const etag = normaliseEtag(response.headers.get('x-linked-etag'));
    if (etag && linkedEtag === null) linkedEtag = etag;
    // only the hub's own answer says which commit it serves (a CDN hop never does); checked
    // before following its redirect, so no byte of another commit is fetched
    const commit = response.headers.get('x-repo-commit')?.trim().toLowerCase();
    if (commit && /^[0-9a-f]{40}$/.test(commit)) {
      try {
        await noteCommit(ctx, source, commit);
      } catch (err) {
        await response.body?.cancel();
        throw err;
      }
    }
    if ([301, 302, 303, 307, 308].includes(response.status)) {
      const location = response.headers.get('location');
      await response.body?.cancel();
      if (!location) throw new DownloadError('http', `redirect without Location from ${current}`);
      current = new URL(location, current).toString();
      continue;
    }
    // A direct LFS answer carries the sha256 as its ETag.
    if (linkedEtag === null && response.ok) linkedEtag = normaliseEtag(response.headers.get('etag'));
    return { response, linkedSize, linkedEtag };
  }
  throw new DownloadError('http', `too many redirects for ${url}`);
}

/** Records the commit the hub serves for `source`; refuses to continue a partial download from another one. */
async function noteCommit(ctx: FileContext, source: SourceState, commit: string): Promise<void> {
  if (source.commit === commit) return;
  const previous = source.commit ?? source.partialCommit;
  if (previous && previous !== commit) {
    throw new DownloadError(
      'revision-moved',
      `${ctx.preset}: ${source.repo} at "${source.revision}" is now commit ${commit}, but the partial download in ${ctx.partialDir} came from ${previous}; its files would mix two commits, so it was not resumed. Run again with --force to discard it and download ${commit}.`,
    );
  }
  source.commit = commit;
  await ctx.saveProgress();
}

/** The hub quotes ETags and, for LFS files, uses the sha256 of the content. */
function normaliseEtag(etag: string | null): string | null {
  if (!etag) return null;
  const v = etag.replace(/^W\//, '').replace(/"/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(v) ? v : null;
}

function parseContentRange(h: string | null): { start: number; end: number; total: number | null } | null {
  const m = h && /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(h.trim());
  if (!m) return null;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? null : Number(m[3]) };
}

function parseContentRangeTotal(h: string | null): number | null {
  const m = h && /\/(\d+)$/.exec(h.trim());
  return m ? Number(m[1]) : null;
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}
