// A short reason for clients: the first line of an error's message with absolute paths reduced to
// their last part. Server paths (the install directory, the user's home, the model folder) tell
// every participant of a room how the server is laid out and are of no use to them; the log keeps
// the full message. Use it wherever a server-side error's text is sent to a client, e.g. a failed
// render's `frame:status` message and the engine status.
const POSIX_PATH = /(^|[\s"'`(=[<,;:])(~?\/(?:[^\s/"'`()<>[\]{},;]+\/)+[^\s/"'`()<>[\]{},;:]*)/g;
const WINDOWS_PATH = /(^|[\s"'`(=[<,;])([A-Za-z]:[\\/](?:[^\s\\/"'`()<>[\]{},;]+[\\/])*[^\s\\/"'`()<>[\]{},;:]*)/g;
const FILE_URL = /file:\/\/[^\s"'`()<>]+/g;

/** At most this many characters reach a client. */
export const MAX_CLIENT_MESSAGE_CHARS = 300;

const lastPart = (path: string) => {
  const parts = path.split(/[\\/]/).filter(Boolean);
  return parts.length ? `…/${parts.at(-1)}` : '…';
};

export function clientSafeMessage(err: unknown, fallback = 'internal error'): string {
  const raw = err instanceof Error ? err.message : typeof err === 'string' ? err : '';
  const firstLine = raw.split(/\r?\n/).find((l) => l.trim() !== '')?.trim() ?? '';
  if (!firstLine) return fallback;
  const safe = firstLine
    .replace(FILE_URL, (url) => lastPart(url.replace(/^file:\/\//, '')))
    .replace(WINDOWS_PATH, (_m, pre: string, path: string) => pre + lastPart(path))
    .replace(POSIX_PATH, (_m, pre: string, path: string) => pre + lastPart(path));
  return safe.length > MAX_CLIENT_MESSAGE_CHARS ? `${safe.slice(0, MAX_CLIENT_MESSAGE_CHARS - 1)}…` : safe;
}
