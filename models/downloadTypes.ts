// What the downloader reports: failures a person can act on, and progress as it goes. Shared by
// download.ts (the preset), downloadFile.ts (one file) and progress.ts (the terminal display).

export type DownloadErrorCode =
  | 'unknown-preset'
  | 'generated'
  | 'execution-provider'
  | 'licence'
  | 'auth'
  | 'not-found'
  | 'http'
  | 'network'
  | 'size'
  | 'checksum'
  | 'revision-moved';

/** A failure a person can act on: the message says what happened and what to do. */
export class DownloadError extends Error {
  constructor(
    readonly code: DownloadErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

export interface DownloadProgress {
  /** Called once; totalBytes is null when some file sizes are unknown until requested. */
  start(info: { preset: string; files: number; totalBytes: number | null }): void;
  fileStart(info: { path: string; size: number | null; resumeFrom: number }): void;
  /** Newly received bytes of the current file (fileStart's resumeFrom counts as already there). */
  advance(bytes: number): void;
  fileDone(info: { path: string; size: number; skipped?: 'installed' | 'missing-optional' }): void;
  retry(info: { path: string; attempt: number; reason: string }): void;
  stop(): void;
}
