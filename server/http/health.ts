// GET /healthz: liveness plus a few numbers an operator wants at a glance. Features add their own
// fields (e.g. the render module's engine status) with `health.register(name, () => value)`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface HealthBase {
  ok: boolean;
  version: string;
  rooms: number;
  clients: number;
  uptimeS: number;
  rssMB: number;
}

const BASE_FIELDS = ['ok', 'version', 'rooms', 'clients', 'uptimeS', 'rssMB', 'problems'];

export class HealthRegistry {
  private readonly extras = new Map<string, () => unknown>();
  private readonly problemSources: Array<() => string[]> = [];
  private readonly startedAt = Date.now();
  readonly version: string;

  constructor(
    root: string,
    private readonly counts: () => { rooms: number; clients: number },
  ) {
    this.version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  }

  /** Add `name: provider()` to every /healthz answer. A provider that throws reports its error. */
  register(name: string, provider: () => unknown): void {
    if (BASE_FIELDS.includes(name) || this.extras.has(name)) throw new Error(`health field ${name} is already taken`);
    this.extras.set(name, provider);
  }

  /** Problems that make the server unhealthy (e.g. a damaged database): while `source` returns
   * any, /healthz answers `ok: false` with them in `problems` (still status 200: the process
   * serves; restarting it would not help). */
  addProblems(source: () => string[]): void {
    this.problemSources.push(source);
  }

  report(): HealthBase & Record<string, unknown> {
    const { rooms, clients } = this.counts();
    const base: HealthBase & Record<string, unknown> = {
      ok: true,
      version: this.version,
      rooms,
      clients,
      uptimeS: Math.round((Date.now() - this.startedAt) / 1000),
      rssMB: Math.round(process.memoryUsage.rss() / 1048576),
    };
    for (const [name, provider] of this.extras) {
      try {
        base[name] = provider();
      } catch (e) {
        base[name] = { error: (e as Error).message };
      }
    }
    const problems = this.problemSources.flatMap((source) => {
      try {
        return source();
      } catch (e) {
        return [`health check failed: ${(e as Error).message}`];
      }
    });
    if (problems.length > 0) {
      base.ok = false;
      base.problems = problems;
    }
    return base;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const body = JSON.stringify(this.report());
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
