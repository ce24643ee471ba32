// JSON logs on stdout (pino). Modules take a child logger with a `module` field so one process's
// interleaved output can be filtered per concern.
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = 'info'): Logger {
  return pino({ level, base: { pid: process.pid } });
}
