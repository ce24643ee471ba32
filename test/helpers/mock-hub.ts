// A local stand-in for the Hugging Face hub's file endpoint, serving a folder the way the hub
// serves a repo: GET /<owner>/<repo>/resolve/<revision>/<path>.
//  - "LFS" files (≥ lfsThreshold bytes) answer with X-Linked-Size and X-Linked-Etag (sha256) and
//    either the bytes (ETag = sha256) or, with `redirect`, a 302 to /cdn/<sha256>/<path> on a
//    second server (another origin, like the hub's CDN).
//  - small files answer directly with ETag = git blob sha1, as the hub does for non-LFS files.
//  - Range requests get 206 + Content-Range; unsatisfiable ones 416.
//  - With `token` set, hub paths need `Authorization: Bearer <token>` (401 otherwise); CDN paths
//    never need it (they are presigned on the real hub).
//  - Faults: cut the connection after N body bytes (once per file), or serve wrong bytes.
//  - Every hub answer carries X-Repo-Commit. With a branch as `revision`, `commit` is what the
//    branch points to (setCommit moves it); files are also served at any commit it pointed to.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative, sep } from 'node:path';

export interface MockHubOptions {
  /** Served as repo `repo` at `revision`. */
  root: string;
  repo: string;
  revision: string;
  /** Files at least this large are treated as Git LFS files (default 10 000 bytes). */
  lfsThreshold?: number;
  /** Answer LFS files with a 302 to /cdn/<sha256>/<name> like the hub's redirect to its CDN. */
  redirect?: boolean;
  /** Require this bearer token on hub (non-CDN) paths. */
  token?: string;
  /** The commit `revision` resolves to (X-Repo-Commit); default: `revision` itself (a pinned sha). */
  commit?: string;
}

export interface RequestRecord {
  path: string;
  status: number;
  range: string | null;
  authorization: string | null;
  /** Body bytes actually written. */
  bytesSent: number;
}

interface ServedFile {
  data: Buffer;
  sha256: string;
  gitSha1: string;
  lfs: boolean;
}

export class MockHub {
  readonly requests: RequestRecord[] = [];
  private readonly files = new Map<string, ServedFile>();
  private readonly cuts = new Map<string, number>();
  private readonly corrupt = new Set<string>();
  private server: Server | null = null;
  private cdnServer: Server | null = null;
  private commit: string;
  private readonly commits = new Set<string>();
  url = '';
  cdnUrl = '';

  constructor(private readonly opts: MockHubOptions) {
    this.commit = opts.commit ?? opts.revision;
    this.commits.add(this.commit);
    const threshold = opts.lfsThreshold ?? 10_000;
    const walk = (dir: string) => {
      for (const e of readdirSync(dir)) {
        const p = join(dir, e);
        if (statSync(p).isDirectory()) walk(p);
        else {
          const data = readFileSync(p);
          this.files.set(relative(opts.root, p).split(sep).join('/'), {
            data,
            sha256: createHash('sha256').update(data).digest('hex'),
            gitSha1: createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex'),
            lfs: data.length >= threshold,
          });
        }
      }
    };
    walk(opts.root);
  }

  /** Repo paths served, with their sizes and sha256 (what a manifest would list). */
  listing(): { path: string; size: number; sha256: string; lfs: boolean }[] {
    return [...this.files].map(([path, f]) => ({ path, size: f.data.length, sha256: f.sha256, lfs: f.lfs }));
  }

  /** The next response body for `path` stops after `bytes` bytes and the socket is destroyed. */
  cutOnce(path: string, bytes: number) {
    this.cuts.set(path, bytes);
  }

  /** Serve `path` with one byte flipped (headers still describe the true content). */
  serveWrongBytes(path: string, on = true) {
    if (on) this.corrupt.add(path);
    else this.corrupt.delete(path);
  }

  /** Moves the branch to another commit (same files), as a push to the repo would. */
  setCommit(sha: string) {
    this.commit = sha;
    this.commits.add(sha);
  }

  async start(): Promise<string> {
    const listen = async () => {
      const server = createServer((req, res) => this.handle(req, res));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
    };
    ({ server: this.server, url: this.url } = await listen());
    ({ server: this.cdnServer, url: this.cdnUrl } = await listen());
    return this.url;
  }

  async stop() {
    for (const server of [this.server, this.cdnServer]) {
      if (!server) continue;
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://x');
    const record: RequestRecord = {
      path: decodeURIComponent(url.pathname),
      status: 0,
      range: req.headers.range ?? null,
      authorization: req.headers.authorization ?? null,
      bytesSent: 0,
    };
    this.requests.push(record);
    const finish = (status: number, headers: Record<string, string | number> = {}, body?: Buffer) => {
      record.status = status;
      res.writeHead(status, headers);
      if (body) record.bytesSent += body.length;
      res.end(body);
    };

    if (req.method !== 'GET' && req.method !== 'HEAD') return finish(405);

    const cdn = /^\/cdn\/([0-9a-f]{64})\/(.+)$/.exec(record.path);
    if (cdn) {
      const entry = [...this.files].find(([p, f]) => f.sha256 === cdn[1] && p === cdn[2]);
      if (!entry) return finish(404);
      return this.sendBytes(req, res, record, entry[0], entry[1], { etag: `"${entry[1].sha256}"` });
    }

    const prefix = `/${this.opts.repo}/resolve/`;
    if (!record.path.startsWith(prefix)) return finish(404, { 'x-error-code': 'RepoNotFound' });
    if (this.opts.token && req.headers.authorization !== `Bearer ${this.opts.token}`) {
      return finish(401, { 'x-error-code': 'GatedRepo', 'content-type': 'text/plain' }, Buffer.from('Access to this repo is restricted'));
    }
    const rest = record.path.slice(prefix.length);
    const slash = rest.indexOf('/');
    const revision = rest.slice(0, slash);
    const path = rest.slice(slash + 1);
    if (revision !== this.opts.revision && !this.commits.has(revision)) return finish(404, { 'x-error-code': 'RevisionNotFound' });
    const commit = this.commits.has(revision) ? revision : this.commit;
    const file = this.files.get(path);
    if (!file) return finish(404, { 'x-error-code': 'EntryNotFound' });

    if (file.lfs) {
      const linked = { 'x-linked-size': file.data.length, 'x-linked-etag': `"${file.sha256}"`, 'x-repo-commit': commit };
      if (this.opts.redirect) {
        return finish(302, { ...linked, location: `${this.cdnUrl}/cdn/${file.sha256}/${path}`, 'content-length': 0 });
      }
      return this.sendBytes(req, res, record, path, file, { ...linked, etag: `"${file.sha256}"` });
    }
    return this.sendBytes(req, res, record, path, file, { etag: `"${file.gitSha1}"`, 'x-repo-commit': commit });
  }

  private sendBytes(req: IncomingMessage, res: ServerResponse, record: RequestRecord, path: string, file: ServedFile, headers: Record<string, string | number>) {
    let data = file.data;
    if (this.corrupt.has(path)) {
      data = Buffer.from(data);
      data[Math.floor(data.length / 2)] ^= 0xff;
    }
    const total = data.length;
    let start = 0;
    let status = 200;
    const base = { ...headers, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    if (req.headers.range) {
      const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range);
      if (!m || Number(m[1]) >= total) {
        record.status = 416;
        res.writeHead(416, { ...base, 'content-range': `bytes */${total}` });
        return res.end();
      }
      start = Number(m[1]);
      const end = m[2] ? Math.min(Number(m[2]), total - 1) : total - 1;
      data = data.subarray(start, end + 1);
      status = 206;
      Object.assign(base, { 'content-range': `bytes ${start}-${end}/${total}` });
    }
    record.status = status;
    res.writeHead(status, { ...base, 'content-length': data.length });
    if (req.method === 'HEAD') return res.end();

    const cut = this.cuts.get(path);
    if (cut !== undefined) {
      this.cuts.delete(path);
      const part = data.subarray(0, Math.max(0, cut - start));
      record.bytesSent += part.length;
      // Flush what we promised to send so far, then drop the connection mid-body.
      res.write(part, () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    record.bytesSent += data.length;
    res.end(data);
  }
}
