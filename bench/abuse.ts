// Abuse benchmark (issue 9, acceptance 2): replays the attacks found by probing the server — sync
// step 1 amplification, render history growth, awareness ids, a flood of made-up rooms, an upload
// flood — against the real server over loopback, and prints one JSON line per attack:
//   {"attack":"step1","rss_mb_before":…,"rss_mb_peak":…,"rss_mb_after":…,"rss_growth_mb":…,
//    "honest_p50_ms":…,"honest_p95_ms":…,"honest_n":…,"target_rss_growth_ok":true,…, <attack figures>}
//   npm run bench:abuse -- --json [--attacks step1,history,awareness,rooms,uploads] [--model tiny-lcm]
//
// Each attack gets a fresh server (its own data directory, removed afterwards) so that one attack's
// leftovers cannot count against the next and each baseline is the server's own. Per attack:
//  1. prepare what the attack needs (a 4 MB room, live frames, files to upload);
//  2. start the probe (bench/abuse-probe.ts, a process of its own): an honest client in another
//     room, from another loopback address (127.0.0.2) so per-address limits see another person;
//  3. baseline: the server's RSS once it stopped moving (≤ 10 s);
//  4. the attack (until its attackers are gone; for history, until the renders stopped), while the
//     probe samples RSS every 100 ms and the honest client sets one record every 100 ms and times
//     each update from emit to the server's ack. The schedule does not wait for acks, so a stalled
//     server delays every update due meanwhile and the p95 shows it; an update lost or unanswered
//     counts as a failure, and any failure fails the p95 target;
//  5. RSS after: polled for up to 10 s until within 10 % of the baseline (no GC is forced: the
//     server exposes nothing for it).
// Targets: RSS growth (peak − before) < 100 MB, honest p95 < 150 ms, RSS after ≤ before + 10 %.
// The server runs the tiny random-weight model (generated into $MODELS_DIR when missing) so that
// live frames really render. Loopback only; every attack is bounded in count and time.
import { Command } from 'commander';
import { resolve } from 'node:path';
import { defaultModelsDir } from '../lib/diffusion/modelPaths';
import { ensureTinyModels, isTinyModel } from '../models/tiny/ensure';
import { createRoom, roomToken } from '../test/helpers/yclient';
import { awarenessAttack, historyAttack, round, step1Attack, type Attack } from './abuse-attacks';
import { roomsAttack, uploadsAttack } from './abuse-floods';
import type { ProbeResult } from './abuse-probe';
import { canConnectFrom, rssAfterMb, settledRssMb, startBenchServer, startProbe, stopBenchServer, type BenchServer } from './abuse-server';
import { runBench } from './cleanup';

const TARGETS = { rss_growth_mb: 100, honest_p95_ms: 150, rss_after_within_pct: 10 };
const HONEST_ADDRESS = '127.0.0.2';

const ATTACKS: Record<string, Attack> = {
  // 100 empty step 1s (3 bytes each) against a 4 MB room, the attacker not reading for 6 s
  step1: step1Attack({ docMb: 4, messages: 100, pauseMs: 6_000 }),
  // 4 rooms × 40 live frames at 1024², two snapshots each, renders awaited for up to 60 s
  history: historyAttack({ rooms: 4, frames: 40, size: 1024, rounds: 2, waitS: 60 }),
  // 128 awareness ids × 60 KB from one socket, then a newcomer's first 2 s
  awareness: awarenessAttack({ ids: 128, stateKb: 60, newcomerMs: 2_000 }),
  // 1,000 made-up room ids from one address, 10 sockets, ≤ 60 s: each join should be refused
  // (no-such-room: rooms must be created first); a room that let it in gets one small update
  // and is left
  rooms: roomsAttack({ rooms: 1_000, sockets: 10, maxS: 60 }),
  // 30 concurrent uploads of 10 MB, 10 of them trickling, ≤ 30 s
  uploads: uploadsAttack({ uploads: 30, slow: 10, mbEach: 10, maxS: 30 }),
};

const opts = new Command()
  .name('bench:abuse')
  .option('--json', 'print only the JSON lines')
  .option('--attacks <list>', `attacks to run, comma-separated (${Object.keys(ATTACKS).join(',')})`, Object.keys(ATTACKS).join(','))
  .option('--model <name>', 'model the server renders with', 'tiny-lcm')
  .parse()
  .opts<{ json?: boolean; attacks: string; model: string }>();

const say = (...a: unknown[]) => {
  if (!opts.json) console.error(...a);
};

function percentile(xs: number[], p: number): number | null {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const ms = (x: number | null) => (x === null ? null : round(x, 1));

function summary(attack: string, before: number, after: { afterMb: number; highestMb: number }, probe: ProbeResult, seconds: number) {
  const peak = Math.max(before, after.highestMb, round(probe.rssPeakKb / 1024));
  const growth = round(peak - before);
  const p95 = percentile(probe.rttMs, 95);
  return {
    attack,
    server: 'fresh',
    rss_mb_before: before,
    rss_mb_peak: peak,
    rss_mb_after: after.afterMb,
    rss_growth_mb: growth,
    rss_after_pct: round((after.afterMb / before - 1) * 100),
    honest_p50_ms: ms(percentile(probe.rttMs, 50)),
    honest_p95_ms: ms(p95),
    honest_max_ms: ms(probe.rttMs.length ? Math.max(...probe.rttMs) : null),
    honest_n: probe.rttMs.length,
    honest_failures: probe.failures,
    ...(probe.failureReasons.length > 0 && { honest_failure_reasons: probe.failureReasons }),
    ...(probe.reconnects > 0 && { honest_reconnects: probe.reconnects }),
    targets: TARGETS,
    target_rss_growth_ok: growth < TARGETS.rss_growth_mb,
    target_p95_ok: p95 !== null && p95 < TARGETS.honest_p95_ms && probe.failures === 0,
    target_rss_after_ok: after.afterMb <= before * (1 + TARGETS.rss_after_within_pct / 100),
    attack_s: round(seconds),
    rss_samples: probe.rssSamples,
    rss_max_sample_gap_ms: Math.round(probe.rssMaxGapMs),
  };
}

type Summary = ReturnType<typeof summary>;

function human(l: Summary, figures: Record<string, unknown>): string {
  const ok = (b: boolean) => (b ? 'ok' : 'FAIL');
  const extra = Object.entries(figures)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(' ');
  return (
    `${l.attack}: RSS ${l.rss_mb_before} → peak ${l.rss_mb_peak} (+${l.rss_growth_mb} MB, ${ok(l.target_rss_growth_ok)}) → after ${l.rss_mb_after} MB (${l.rss_after_pct}%, ${ok(l.target_rss_after_ok)}); ` +
    `honest p50 ${l.honest_p50_ms} ms, p95 ${l.honest_p95_ms} ms (${ok(l.target_p95_ok)}), max ${l.honest_max_ms} ms, n ${l.honest_n}, failures ${l.honest_failures}\n    ${extra}`
  );
}

async function runAttack(name: string, attack: Attack, modelsDir: string, honestAddress: (port: number) => Promise<string | undefined>) {
  say(`${name}: starting a fresh server…`);
  const s: BenchServer = await startBenchServer(opts.model, modelsDir);
  try {
    const prepared = await attack({ url: s.url, port: s.port, dataDir: s.dataDir, say });
    const address = await honestAddress(s.port);
    const probeRoom = await createRoom(s.url);
    const probe = await startProbe(s.url, probeRoom, roomToken(probeRoom), s.pid, address);
    try {
      const before = await settledRssMb(s.pid);
      say(`  baseline RSS ${before} MB; attacking…`);
      probe.start();
      const t0 = performance.now();
      const figures = await prepared.run();
      const seconds = (performance.now() - t0) / 1000;
      const result = await probe.stop();
      const after = await rssAfterMb(s.pid, before, TARGETS.rss_after_within_pct);
      prepared.teardown();
      const base = summary(name, before, after, result, seconds);
      say(human(base, figures));
      return { ...base, rss_after_wait_s: after.waitedS, honest_address: address ?? 'default', ...figures };
    } finally {
      probe.close();
    }
  } finally {
    await stopBenchServer(s);
  }
}

async function main() {
  const names = opts.attacks.split(',').map((x) => x.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(n in ATTACKS));
  if (unknown.length > 0) throw new Error(`unknown attack(s) ${unknown.join(', ')}; known: ${Object.keys(ATTACKS).join(', ')}`);
  const modelsDir = resolve(defaultModelsDir());
  if (isTinyModel(opts.model)) await ensureTinyModels(modelsDir, [opts.model]);

  // from another loopback address if the system allows it (decided once, against the first server)
  let address: Promise<string | undefined> | undefined;
  const honestAddress = (port: number) => (address ??= canConnectFrom(HONEST_ADDRESS, port).then((ok) => (ok ? HONEST_ADDRESS : undefined)));
  let failed = false;
  for (const name of names) {
    let line: Record<string, unknown>;
    try {
      line = await runAttack(name, ATTACKS[name]!, modelsDir, honestAddress);
    } catch (e) {
      failed = true;
      line = { attack: name, error: (e as Error).message };
      say(`${name}: failed: ${(e as Error).message}`);
    }
    console.log(JSON.stringify(line));
  }
  if (failed) throw new Error('some attacks could not be run (see their "error")');
}

runBench(main);
