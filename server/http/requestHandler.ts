// HTTP routing of the one server process: /healthz is ours, everything else goes to Next.js
// (Socket.IO intercepts /socket.io/ before this handler runs).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger';
import type { HealthRegistry } from './health';

export type NextHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function createRequestHandler(health: HealthRegistry, next: NextHandler | null, logger: Logger) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return health.handle(req, res);
    if (!next) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found (web app disabled: LC_WEB=0)\n');
      return;
    }
    next(req, res).catch((err) => {
      logger.error({ err, url: req.url }, 'web request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('internal server error\n');
    });
  };
}
