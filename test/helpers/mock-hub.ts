// A local stand-in for the Hugging Face hub's file endpoint, serving a folder the way the hub
// serves a repo: GET /<owner>/<repo>/resolve/<revision>/<path>.
//  - "LFS" files (≥ lfsThreshold bytes) answer with X-Linked-Size and X-Linked-Etag (sha256) and
//    either the bytes (ETag = sha256) or, with `redirect`, a 302 to /cdn/<sha256>/<repo>/<path> on a
//    second server (another origin, like the hub's CDN).
//  - small files answer directly with ETag = git blob sha1, as the hub does for non-LFS files.
//  - Range requests get 206 + Content-Range; unsatisfiable ones 416.
//  - With `token` set, hub paths need `Authorization: Bearer <token>` (401 otherwise); CDN paths
//    never need it (they are presigned on the real hub).
//  - Faults: cut the connection after N body bytes (once per file), or serve wrong bytes.
//  - Every hub answer carries X-Repo-Commit. With a branch as `revision`, `commit` is what the
//    branch points to (setCommit moves it); files are also served at any commit it pointed to.
//  - `otherRepos` serves more repos from the same origin, each with its own folder, revision and
//    commit (a preset that takes its ControlNets from another repo). Methods taking a path act on
//    the main repo unless given another repo.
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
  /** More repos on the same hub. */
  otherRepos?: { root: string; repo: string; revision: string; commit?: string }[];
}

interface ServedRepo {
  revision: string;
  commit: string;
  commits: Set<string>;
  files: Map<string, ServedFile>;
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
  private readonly repos = new Map<string, ServedRepo>();
  /** keyed by `${repo}:${path}` */
  private readonly cuts = new Map<string, number>();
  private readonly corrupt = new Set<string>();
  private server: Server | null = null;
  private cdnServer: Server | null = null;
  url = '';
  cdnUrl = '';

  constructor(private readonly opts: MockHubOptions) {
    const threshold = opts.lfsThreshold ?? 10_000;
    for (const r of [{ root: opts.root, repo: opts.repo, revision: opts.revision, commit: opts.commit }, ...(opts.otherRepos ?? [])]) {
      const commit = r.commit ?? r.revision;
      const files = new Map<string, ServedFile>();
      const walk = (dir: string) => {
        for (const e of readdirSync(dir)) {
          const p = join(dir, e);
          if (statSync(p).isDirectory()) walk(p);
          else {
            const data = readFileSync(p);
            files.set(relative(r.root, p).split(sep).join('/'), {
              data,
              sha256: createHash('sha256').update(data).digest('hex'),
              gitSha1: createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex'),
              lfs: data.length >= threshold,
            });
          }
        }
      };
      walk(r.root);
      this.repos.set(r.repo, { revision: r.revision, commit, commits: new Set([commit]), files });
    }
  }

  private served(repo = this.opts.repo): ServedRepo {
    const r = this.repos.get(repo);
    if (!r) throw new Error(`the mock hub serves no repo ${repo}`);
    return r;
  }

  /** Repo paths served, with their sizes and sha256 (what a manifest would list). */
  listing(repo?: string): { path: string; size: number; sha256: string; lfs: boolean }[] {
    return [...this.served(repo).files].map(([path, f]) => ({ path, size: f.data.length, sha256: f.sha256, lfs: f.lfs }));
  }

  /** The next response body for `path` stops after `bytes` bytes and the socket is destroyed. */
  cutOnce(path: string, bytes: number, repo = this.opts.repo) {
    this.cuts.set(`${repo}:${path}`, bytes);
  }

  /** Serve `path` with one byte flipped (headers still describe the true content). */
  serveWrongBytes(path: string, on = true, repo = this.opts.repo) {
    if (on) this.corrupt.add(`${repo}:${path}`);
    else this.corrupt.delete(`${repo}:${path}`);
  }

  /** Moves the branch to another commit (same files), as a push to the repo would. */
  setCommit(sha: string, repo?: string) {
    const r = this.served(repo);
    r.commit = sha;
    r.commits.add(sha);
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

    const cdn = /^\/cdn\/([0-9a-f]{64})\/([^/]+\/[^/]+)\/(.+)$/.exec(record.path);
    if (cdn) {
      const file = this.repos.get(cdn[2])?.files.get(cdn[3]);
      if (!file || file.sha256 !== cdn[1]) return finish(404);
      return this.sendBytes(req, res, record, `${cdn[2]}:${cdn[3]}`, file, { etag: `"${file.sha256}"` });
    }

    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(record.path);
    const served = m && this.repos.get(m[1]);
    if (!m || !served) return finish(404, { 'x-error-code': 'RepoNotFound' });
    if (this.opts.token && req.headers.authorization !== `Bearer ${this.opts.token}`) {
      return finish(401, { 'x-error-code': 'GatedRepo', 'content-type': 'text/plain' }, Buffer.from('Access to this repo is restricted'));
    }
    const [, repo, revision, path] = m;
    if (revision !== served.revision && !served.commits.has(revision)) return finish(404, { 'x-error-code': 'RevisionNotFound' });
    const commit = served.commits.has(revision) ? revision : served.commit;
    const file = served.files.get(path);
    if (!file) return finish(404, { 'x-error-code': 'EntryNotFound' });

    const key = `${repo}:${path}`;
    if (file.lfs) {
      const linked = { 'x-linked-size': file.data.length, 'x-linked-etag': `"${file.sha256}"`, 'x-repo-commit': commit };
      if (this.opts.redirect) {
        return finish(302, { ...linked, location: `${this.cdnUrl}/cdn/${file.sha256}/${repo}/${path}`, 'content-length': 0 });
      }
      return this.sendBytes(req, res, record, key, file, { ...linked, etag: `"${file.sha256}"` });
    }
    return this.sendBytes(req, res, record, key, file, { etag: `"${file.gitSha1}"`, 'x-repo-commit': commit });
  }

  /** `key` is `${repo}:${path}` (what cutOnce and serveWrongBytes name). */
  private sendBytes(req: IncomingMessage, res: ServerResponse, record: RequestRecord, key: string, file: ServedFile, headers: Record<string, string | number>) {
    let data = file.data;
    if (this.corrupt.has(key)) {
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

    const cut = this.cuts.get(key);
    if (cut !== undefined) {
      this.cuts.delete(key);
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
