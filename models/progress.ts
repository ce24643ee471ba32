// Download progress for people: a live bar (total bytes, speed, ETA) on a terminal, and plain
// lines otherwise (CI logs, pipes), where a redrawn bar would be unreadable noise.
import cliProgress from 'cli-progress';
import type { DownloadProgress } from './download';
import { formatBytes } from './sizes';

/** Overall byte accounting shared by both reporters. */
class Tally {
  doneBytes = 0; // bytes of finished files
  filePos = 0; // bytes of the current file on disk
  fileSize: number | null = null;
  total: number | null = null;
  knownTotal = 0; // sum of sizes learned so far (when the manifest lacks some)
  private samples: { t: number; bytes: number }[] = [];

  get current() {
    return this.doneBytes + this.filePos;
  }

  /** Bytes per second over the last ~5 s. */
  speed(now = Date.now()): number {
    this.samples.push({ t: now, bytes: this.current });
    while (this.samples.length > 2 && now - this.samples[0].t > 5000) this.samples.shift();
    const first = this.samples[0];
    const dt = (now - first.t) / 1000;
    return dt > 0.2 ? (this.current - first.bytes) / dt : 0;
  }
}

export function createProgress(stream: NodeJS.WriteStream = process.stdout): DownloadProgress {
  return stream.isTTY ? new BarProgress(stream) : new LineProgress(stream);
}

export class BarProgress implements DownloadProgress {
  private readonly tally = new Tally();
  private bar: cliProgress.SingleBar | null = null;
  private file = '';

  constructor(private readonly stream: NodeJS.WriteStream) {}

  start(info: { preset: string; files: number; totalBytes: number | null }) {
    this.tally.total = info.totalBytes;
    this.bar = new cliProgress.SingleBar(
      {
        stream: this.stream,
        format: `${info.preset} {bar} {percentage}% | {done} / {all} | {speed} | ETA {eta_formatted} | {file}`,
        hideCursor: true,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(Math.max(info.totalBytes ?? 1, 1), 0, this.payload());
  }

  fileStart(info: { path: string; size: number | null; resumeFrom: number }) {
    this.file = info.path;
    this.tally.filePos = info.resumeFrom;
    this.tally.fileSize = info.size;
    if (this.tally.total === null && info.size !== null) {
      this.tally.knownTotal += info.size;
      this.bar?.setTotal(Math.max(this.tally.doneBytes + (info.size ?? 0), this.tally.knownTotal));
    }
    this.redraw();
  }

  advance(bytes: number) {
    this.tally.filePos += bytes;
    this.redraw();
  }

  fileDone(info: { path: string; size: number }) {
    this.tally.doneBytes += info.size;
    this.tally.filePos = 0;
    if (this.tally.total === null && this.bar && this.bar.getTotal() < this.tally.doneBytes) this.bar.setTotal(this.tally.doneBytes);
    this.redraw();
  }

  retry(info: { path: string; attempt: number; reason: string }) {
    this.bar?.stop();
    this.stream.write(`  ${info.path}: ${info.reason} — retrying (attempt ${info.attempt})\n`);
    this.bar?.start(this.bar.getTotal(), this.tally.current, this.payload());
  }

  stop() {
    this.bar?.stop();
  }

  private payload() {
    return {
      done: formatBytes(this.tally.current),
      all: this.tally.total !== null ? formatBytes(this.tally.total) : `≥ ${formatBytes(this.tally.knownTotal)}`,
      speed: `${formatBytes(Math.round(this.tally.speed()))}/s`,
      file: this.file,
    };
  }

  private redraw() {
    this.bar?.update(this.tally.current, this.payload());
  }
}

/** One line when a file starts and ends, plus a line every 10 % or 10 s of a long file. */
export class LineProgress implements DownloadProgress {
  private readonly tally = new Tally();
  private lastLine = 0;
  private lastPct = 0;
  private file = '';

  constructor(private readonly stream: NodeJS.WriteStream | { write(s: string): unknown }) {}

  start(info: { preset: string; files: number; totalBytes: number | null }) {
    this.tally.total = info.totalBytes;
    this.write(`${info.preset}: ${info.files} files${info.totalBytes !== null ? `, ${formatBytes(info.totalBytes)}` : ''}`);
  }

  fileStart(info: { path: string; size: number | null; resumeFrom: number }) {
    this.file = info.path;
    this.tally.filePos = info.resumeFrom;
    this.tally.fileSize = info.size;
    this.lastLine = Date.now();
    this.lastPct = 0;
    const size = info.size !== null ? formatBytes(info.size) : 'size unknown';
    this.write(`  ${info.path} (${size})${info.resumeFrom > 0 ? ` resuming at ${formatBytes(info.resumeFrom)}` : ''}`);
  }

  advance(bytes: number) {
    this.tally.filePos += bytes;
    const now = Date.now();
    const size = this.tally.fileSize;
    const pct = size ? Math.floor((this.tally.filePos / size) * 10) * 10 : 0;
    const speed = this.tally.speed(now);
    if ((size && pct > this.lastPct && pct < 100) || now - this.lastLine > 10_000) {
      this.lastPct = pct;
      this.lastLine = now;
      const eta = size && speed > 0 ? ` ETA ${Math.ceil((size - this.tally.filePos) / speed)} s` : '';
      this.write(`  ${this.file}: ${size ? `${pct}% ` : ''}${formatBytes(this.tally.filePos)} at ${formatBytes(Math.round(speed))}/s${eta}`);
    }
  }

  fileDone(info: { path: string; size: number; skipped?: 'installed' | 'missing-optional' }) {
    this.tally.doneBytes += info.size;
    this.tally.filePos = 0;
    if (info.skipped === 'installed') this.write(`  ${info.path}: already downloaded`);
    else if (!info.skipped) this.write(`  ${info.path}: done, ${formatBytes(info.size)} verified`);
  }

  retry(info: { path: string; attempt: number; reason: string }) {
    this.write(`  ${info.path}: ${info.reason} — retrying (attempt ${info.attempt})`);
  }

  stop() {}

  private write(line: string) {
    this.stream.write(`${line}\n`);
  }
}
