// HTTP routing of the one server process: /healthz, routes registered by features (e.g. the
// render loop's /api/…), then Next.js. Socket.IO answers /socket.io/ before this handler runs.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger';
import type { HealthRegistry } from './health';

export type NextHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Return false (or a promise of false) to let the request fall through to the next route. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => boolean | void | Promise<boolean | void>;

export class HttpRoutes {
  private readonly routes: Array<{ prefix: string; handler: RouteHandler }> = [];

  /** Serve every path starting with `prefix` (e.g. '/api/assets/'), before the web app. */
  add(prefix: string, handler: RouteHandler): void {
    if (!prefix.startsWith('/')) throw new Error(`route prefix must start with '/': ${prefix}`);
    this.routes.push({ prefix, handler });
  }

  /** The handlers whose prefix matches `path`, in registration order. */
  matching(path: string): RouteHandler[] {
    return this.routes.filter((r) => path.startsWith(r.prefix)).map((r) => r.handler);
  }
}

export function createRequestHandler(health: HealthRegistry, routes: HttpRoutes, next: NextHandler | null, logger: Logger) {
  const fail = (req: IncomingMessage, res: ServerResponse, err: unknown) => {
    logger.error({ err, url: req.url }, 'HTTP request failed');
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('internal server error\n');
  };
  const fallback = (req: IncomingMessage, res: ServerResponse) => {
    if (!next) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found (web app disabled: LC_WEB=0)\n');
      return;
    }
    next(req, res).catch((err) => fail(req, res, err));
  };
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/healthz') return health.handle(req, res);
    try {
      for (const handler of routes.matching(path)) {
        if ((await handler(req, res)) !== false) return;
      }
    } catch (err) {
      return fail(req, res, err);
    }
    fallback(req, res);
  };
}
