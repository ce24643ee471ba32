// The measuring side of bench/abuse.ts, in a process of its own so that the attack traffic the
// benchmark itself generates (reading hundreds of MB, writing uploads) cannot delay its clock:
//  - an honest client in a room of its own that sets one record every INTERVAL ms and times each
//    update from its emit to the server's ack. The schedule does not wait for acks (a person keeps
//    drawing while the server is stalled), so a stall shows in every update it delays, not only
//    in the one that was in flight (no coordinated omission). Updates whose ack never comes
//    (a disconnect) or that are still unanswered RTT_WAIT_MS after the end count as failures, at
//    the time they waited; ticks that find the client disconnected count as failures too.
//  - the server's RSS (VmRSS of /proc/<pid>/status), sampled every RSS_INTERVAL ms, for the peak.
// Driven over IPC by bench/abuse.ts (startProbe): {url, roomId, token, pid, localAddress} in the
// environment, then 'start' → measuring, 'stop' → one 'result' message. Exits when told ('close')
// or when its parent goes away (IPC disconnect).
import { drawShape } from '../test/helpers/yclient';
import { RoomPeer, sleep } from './abuse-peer';
import { readRssKb } from './abuse-server';

const INTERVAL_MS = 100;
const RSS_INTERVAL_MS = 100;
/** after 'stop', how long updates still in flight may take before they count as failed */
const RTT_WAIT_MS = 5_000;

export interface ProbeResult {
  rttMs: number[];
  /** round trips that timed out, were refused (nack) or lost to a disconnect */
  failures: number;
  failureReasons: string[];
  reconnects: number;
  rssPeakKb: number;
  rssSamples: number;
  /** longest gap between two RSS samples (a busy probe would miss peaks) */
  rssMaxGapMs: number;
}

async function main() {
  const url = process.env.PROBE_URL!;
  const roomId = process.env.PROBE_ROOM!;
  /** the room's edit link token: the honest client joins a shared room the way a page does */
  const token = process.env.PROBE_TOKEN || undefined;
  const pid = Number(process.env.PROBE_PID);
  const localAddress = process.env.PROBE_LOCAL_ADDRESS || undefined;
  const send = (m: unknown) => process.send?.(m);
  process.on('disconnect', () => process.exit(0));

  const result: ProbeResult = { rttMs: [], failures: 0, failureReasons: [], reconnects: 0, rssPeakKb: 0, rssSamples: 0, rssMaxGapMs: 0 };
  /** between 'start' and the end of the wait after 'stop' */
  let measuring = false;
  let running = false;
  let rejoining = false;

  const fail = (reason: string) => {
    result.failures++;
    const short = reason.slice(0, 200);
    if (result.failureReasons.length < 5 && !result.failureReasons.includes(short)) result.failureReasons.push(short);
  };
  const watch = (p: RoomPeer) => {
    p.onAck = (ms, res, kind) => {
      if (!measuring || kind !== 'update') return;
      result.rttMs.push(ms);
      if (!res?.ok) fail(`refused: ${JSON.stringify(res?.error)}`);
    };
    p.onLost = (lost, reason) => {
      if (!measuring) return;
      for (const m of lost.filter((l) => l.kind === 'update')) {
        result.rttMs.push(performance.now() - m.at);
        fail(`lost to a disconnect (${reason})`);
      }
    };
    return p;
  };
  let peer = watch(await RoomPeer.join(url, roomId, { localAddress, token, name: 'honest' }));

  /** A person would reload: so does the honest client (a fresh doc; nothing unsent to keep). */
  const rejoin = async () => {
    rejoining = true;
    peer.close();
    while (running) {
      try {
        peer = watch(await RoomPeer.join(url, roomId, { localAddress, token, name: 'honest' }));
        result.reconnects++;
        break;
      } catch (e) {
        fail(`rejoin: ${(e as Error).message}`);
        await sleep(500);
      }
    }
    rejoining = false;
  };

  const honestLoop = async () => {
    let i = 0;
    let next = performance.now();
    while (running) {
      if (peer.socket.connected && !rejoining) {
        peer.records.set('shape:draw0', { ...drawShape(0), x: i++ });
      } else {
        fail('not connected when an update was due');
        if (!rejoining) void rejoin();
      }
      next += INTERVAL_MS;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      else next = performance.now(); // this process fell behind: no catch-up burst
    }
  };

  let rssTimer: NodeJS.Timeout | undefined;
  let lastSample = 0;
  const sampleRss = () => {
    const now = performance.now();
    if (lastSample) result.rssMaxGapMs = Math.max(result.rssMaxGapMs, now - lastSample);
    lastSample = now;
    try {
      result.rssPeakKb = Math.max(result.rssPeakKb, readRssKb(pid));
      result.rssSamples++;
    } catch {
      /* the server is gone: the benchmark notices */
    }
  };

  let loop: Promise<void> = Promise.resolve();
  const stop = async () => {
    running = false;
    await loop;
    const deadline = performance.now() + RTT_WAIT_MS;
    while (peer.inflightNow().some((m) => m.kind === 'update') && performance.now() < deadline) await sleep(20);
    for (const m of peer.inflightNow().filter((l) => l.kind === 'update')) {
      result.rttMs.push(performance.now() - m.at);
      fail(`no ack within ${RTT_WAIT_MS / 1000} s after the attack`);
    }
    measuring = false;
    clearInterval(rssTimer);
    sampleRss();
    send({ type: 'result', result });
  };

  process.on('message', (m: { type: string }) => {
    if (m.type === 'start' && !running) {
      measuring = running = true;
      sampleRss();
      rssTimer = setInterval(sampleRss, RSS_INTERVAL_MS);
      loop = honestLoop();
    } else if (m.type === 'stop') {
      void stop();
    } else if (m.type === 'close') {
      peer.close();
      setTimeout(() => process.exit(0), 100);
    }
  });
  send({ type: 'ready' });
}

main().catch((e: Error) => {
  process.send?.({ type: 'error', message: e.message });
  setTimeout(() => process.exit(1), 100);
});
