// Benchmarks leave nothing running, whichever way they end: every exit path (success, a thrown
// error, an unhandled rejection, SIGINT/SIGTERM/SIGHUP, process.exit) stops the server processes
// started through test/helpers/server.ts and runs the cleanups registered here (e.g. closing
// chromium). The server's engine workers are threads of its process, so stopping it stops them.
// process.exit itself is covered by the helper's exit hook (a synchronous SIGKILL of the servers);
// playwright kills the chromium it launched on exit too.
import { stopAllServers } from '../test/helpers/server';

type Cleanup = () => unknown;
const cleanups: Cleanup[] = [];
let exiting = false;
const CLEANUP_TIMEOUT_MS = 10_000;

/** Runs `fn` (newest first) before the servers are stopped, on every exit path. */
export function onCleanup(fn: Cleanup): void {
  cleanups.push(fn);
}

function report(err: unknown) {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
}

/** Runs the cleanups, stops the servers, then exits with `code`. Called again while cleaning up
 * (e.g. an error from work the cleanup interrupted), it does nothing: the first call exits. */
export async function exitBench(code: number): Promise<void> {
  if (exiting) return;
  exiting = true;
  for (const fn of cleanups.reverse()) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('a cleanup did not finish within 10 s')), CLEANUP_TIMEOUT_MS);
    });
    try {
      await Promise.race([Promise.resolve().then(fn), timeout]);
    } catch (e) {
      report(e);
    } finally {
      clearTimeout(timer);
    }
  }
  await stopAllServers().catch(report);
  process.exit(code);
}

/** Installs the signal and error handlers; call once at the top of a benchmark. */
export function guardBench(): void {
  const signals: Array<[NodeJS.Signals, number]> = [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ];
  for (const [signal, code] of signals) {
    process.on(signal, () => {
      // Ctrl-C reaches the whole process group and tsx relays it too: repeats change nothing,
      // and stopping is bounded (cleanups time out, servers are SIGKILLed after 10 s).
      if (exiting) return;
      console.error(`${signal}: stopping the benchmark's processes…`);
      void exitBench(code);
    });
  }
  // Failures of work that the cleanup itself interrupted (a closed browser, a stopped server)
  // are expected then, not news.
  const fail = (err: unknown) => {
    if (exiting) return;
    report(err);
    void exitBench(1);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
}

/** guardBench() + run `main`: exit 0 when it resolves, 1 (message on stderr) when it throws. */
export function runBench(main: () => Promise<void>): void {
  guardBench();
  main().then(
    () => exitBench(0),
    (err: unknown) => {
      if (exiting) return;
      console.error(err instanceof Error ? err.message : err);
      return exitBench(1);
    },
  );
}
