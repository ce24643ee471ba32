// Room load in a real browser: how long a person opening the link of a 2,000-shape room waits
// until the drawing is on screen. Complements bench/room-load.ts (socket-level sync and server
// memory). Prints one JSON line (`--json`: nothing else on stdout).
//
//   npm run bench:load:browser -- [--shapes 2000] [--runs 5] [--warm] [--json]
//
// 1. Seeding, as people would make the room: in one page, a few strokes are drawn with the mouse
//    and the draw tool; their records (tldraw's own segments/paths, so every validator accepts
//    them) are copied to `shapes` draw shapes on a grid with `editor.createShapes`, which the page
//    syncs to the server. A separate socket peer checks that the server has all of them.
// 2. `runs` fresh loads: each a new browser context (empty HTTP cache and localStorage: a new
//    person) opening the room's edit link (/r/<room>#k=…). A script injected before the page's own measures, on the
//    page clock (ms since navigation start), the first animation frame where
//      store ready: window.editor exists and getCurrentPageShapeIds().size === shapes
//      painted:     shape elements are laid out inside the viewport; the time is taken in a task
//                   queued from that frame, i.e. after the frame was painted.
//    By default the room is cold on the server for every load (the previous visitor left, so it
//    is read from SQLite); `--warm` keeps a socket peer in it.
import { Command } from 'commander';
import type { Browser, Page } from 'playwright-core';
// @ts-expect-error plain .mjs helper shared with npm start
import { buildIsFresh, ensureBuild } from '../scripts/ensure-build.mjs';
import { roomLink } from '../lib/protocol/access';
import { launchBrowser, openRoom, waitForEditor, waitInPage } from '../test/e2e/browser';
import { startServer, type TestServer } from '../test/helpers/server';
import { connectPeer, createRoom, roomToken, type Peer } from '../test/helpers/yclient';
import { exitBench, guardBench, onCleanup } from './cleanup';

// Errors and signals close chromium and stop the server (playwright also kills chromium on exit).
guardBench();

const o = new Command()
  .name('bench:load:browser')
  .option('--shapes <n>', 'draw shapes in the room', '2000')
  .option('--runs <n>', 'fresh page loads', '5')
  .option('--warm', 'keep the room loaded on the server during the loads (default: cold, read from SQLite)')
  .option('--json', 'print the JSON line only')
  .parse()
  .opts();
const SHAPES = Number(o.shapes);
const RUNS = Number(o.runs);
const VIEWPORT = { width: 1280, height: 800 };
const log = (s: string) => {
  if (!o.json) console.error(`  ${s}`);
};
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
/** nearest-rank percentile (with 5 runs: p50 = the 3rd, p95 = the slowest) */
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil(p * xs.length) - 1)]!;

// ── 1. seed ──

/** Draw a polyline with the draw tool, as a person would. */
async function drawStroke(page: Page, points: Array<[number, number]>) {
  await page.mouse.move(...points[0]!);
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...p);
  await page.mouse.up();
}

/** Four hand-like strokes of 40 pointer positions each, about 50 px across, starting at (x, y). */
function sampleStrokes(x: number, y: number): Array<Array<[number, number]>> {
  const n = 40;
  const t = (k: number) => k / (n - 1);
  return [
    Array.from({ length: n }, (_, k) => [x + 50 * t(k), y + 12 * Math.sin(t(k) * 4 * Math.PI)]), // wave
    Array.from({ length: n }, (_, k) => [x + 25 + 22 * Math.cos(t(k) * 2.1 * Math.PI), y + 22 * Math.sin(t(k) * 2.1 * Math.PI)]), // loop
    Array.from({ length: n }, (_, k) => [x + 50 * t(k), y + (k % 8 < 4 ? (k % 4) * 8 : (4 - (k % 4)) * 8)]), // zigzag
    Array.from({ length: n }, (_, k) => [x + 25 + 4 + 18 * t(k) * Math.cos(t(k) * 5 * Math.PI), y + 18 * t(k) * Math.sin(t(k) * 5 * Math.PI)]), // spiral
  ] as Array<Array<[number, number]>>;
}

/** The room's edit link (`/r/<roomId>#k=…`), what a person opens. */
const editLink = (roomId: string) => roomLink(roomId, roomToken(roomId));

async function seedRoom(browser: Browser, server: TestServer, roomId: string) {
  const seeder = await openRoom(browser, server.url, editLink(roomId), { viewport: VIEWPORT });
  const { page } = seeder;
  await page.keyboard.press('d');
  for (const [i, stroke] of sampleStrokes(200, 200).entries()) {
    await drawStroke(page, stroke.map(([x, y]) => [x + i * 120, y]));
  }
  const sampleCount = await page.evaluate(() => window.editor!.getCurrentPageShapeIds().size);
  if (sampleCount !== 4) throw new Error(`drew 4 strokes, the page has ${sampleCount} shapes`);
  const created = await page.evaluate((total) => {
    const editor = window.editor!;
    const samples = editor.getCurrentPageShapes().map((s) => s.props);
    editor.deleteShapes([...editor.getCurrentPageShapeIds()]);
    // A grid of strokes from the origin, where a newcomer's camera starts: 50 columns, 80 px apart.
    const partials = Array.from({ length: total }, (_, i) => ({
      type: 'draw' as const,
      x: (i % 50) * 80,
      y: Math.floor(i / 50) * 80,
      props: samples[i % samples.length],
    }));
    // 200 per call: 10 updates of ~130 KB rather than one of 1.3 MB, closer to a room's history.
    for (let i = 0; i < partials.length; i += 200) editor.createShapes(partials.slice(i, i + 200) as any);
    return editor.getCurrentPageShapeIds().size;
  }, SHAPES);
  if (created !== SHAPES) throw new Error(`created ${created} shapes, expected ${SHAPES}`);

  // The server has them all when an independent peer syncs them.
  const shapesOnServer = (p: Peer) => [...p.records.values()].filter((r: any) => r?.typeName === 'shape').length;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const check = await connectPeer(server.url, roomId);
    const n = shapesOnServer(check);
    check.close();
    if (n === SHAPES) break;
    if (Date.now() > deadline) throw new Error(`the server has ${n} of ${SHAPES} shapes 30 s after seeding`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const problems = seeder.errors;
  await seeder.context.close();
  if (problems.length) throw new Error(`the seeding page reported errors: ${problems[0]}`);
}

// ── 2. measure ──

declare global {
  interface Window {
    __lcLoad?: { storeReady?: number; painted?: number; visibleShapes?: number };
  }
}

/** Runs in the page before its scripts: watches every animation frame from navigation start.
 * Plain JS source, because tsx would wrap the inner functions of a serialized TS function in its
 * `__name` helper, which does not exist in the page. */
const loadProbe = (total: number) => `(() => {
  const marks = {};
  window.__lcLoad = marks;
  const visibleShapes = () => {
    let n = 0;
    for (const el of document.querySelectorAll('.tl-shape')) {
      const r = el.getBoundingClientRect(); // culled shapes are display:none: an empty rect
      if (r.width > 0 && r.right > 0 && r.bottom > 0 && r.left < innerWidth && r.top < innerHeight) n++;
    }
    return n;
  };
  const frame = () => {
    const editor = window.editor;
    if (marks.storeReady === undefined && editor && editor.getCurrentPageShapeIds().size === ${total}) {
      marks.storeReady = performance.now();
    }
    if (marks.storeReady !== undefined) {
      const n = visibleShapes();
      if (n > 0) {
        marks.visibleShapes = n;
        // A task queued during a frame's callbacks runs after that frame's style, layout and paint.
        setTimeout(() => (marks.painted = performance.now()), 0);
        return;
      }
    }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
})();`;

interface Load {
  storeReadyMs: number;
  paintedMs: number;
  domContentLoadedMs: number;
  visibleShapes: number;
}

async function freshLoad(browser: Browser, url: string, roomId: string): Promise<Load> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  try {
    await context.addInitScript({ content: loadProbe(SHAPES) });
    const page = await context.newPage();
    const skipped: string[] = [];
    page.on('console', (m) => {
      if (m.text().includes('[livecanvas] skipped')) skipped.push(m.text());
    });
    await page.goto(`${url}${editLink(roomId)}`);
    await waitForEditor(page, 60_000);
    try {
      await waitInPage(page, () => window.__lcLoad?.painted !== undefined, 60_000, `${SHAPES} shapes painted`);
    } catch (e) {
      const seen = await page.evaluate(() => ({
        marks: window.__lcLoad,
        storeShapes: window.editor?.getCurrentPageShapeIds().size,
        shapeElements: document.querySelectorAll('.tl-shape').length,
      }));
      throw new Error(`${(e as Error).message} (page state: ${JSON.stringify(seen)})`);
    }
    if (skipped.length) throw new Error(`the page skipped records: ${skipped[0]}`);
    const shapes = await page.evaluate(() => window.editor!.getCurrentPageShapeIds().size);
    if (shapes !== SHAPES) throw new Error(`the store has ${shapes} shapes, expected ${SHAPES}`);
    return page.evaluate(() => {
      const m = window.__lcLoad!;
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      return {
        storeReadyMs: m.storeReady!,
        paintedMs: m.painted!,
        domContentLoadedMs: nav.domContentLoadedEventEnd,
        visibleShapes: m.visibleShapes!,
      };
    });
  } finally {
    await context.close();
  }
}

async function openRooms(url: string): Promise<number> {
  return ((await (await fetch(`${url}/healthz`)).json()) as { rooms: number }).rooms;
}

// ── main ──

if (!buildIsFresh()) log('building the web app (next build)…');
ensureBuild({ quiet: true });
const server = await startServer({ web: true });
const browser = await launchBrowser();
onCleanup(() => browser.close());
try {
  const roomId = await createRoom(server.url); // a shared room, as the landing page makes it
  const t0 = performance.now();
  await seedRoom(browser, server, roomId);
  log(`seeded ${SHAPES} draw shapes in ${round((performance.now() - t0) / 1000)} s`);

  const holder = o.warm ? await connectPeer(server.url, roomId) : null;
  const loads: Load[] = [];
  for (let i = 0; i < RUNS; i++) {
    if (!holder) {
      // Cold: wait until the previous visitor's room was unloaded (compacted to SQLite).
      const deadline = Date.now() + 15_000;
      while ((await openRooms(server.url)) > 0) {
        if (Date.now() > deadline) throw new Error('the room did not unload within 15 s of the last visitor leaving');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const load = await freshLoad(browser, server.url, roomId);
    loads.push(load);
    log(
      `load ${i + 1}: DOMContentLoaded ${round(load.domContentLoadedMs)} ms, store ready ${round(load.storeReadyMs)} ms, ` +
        `painted ${round(load.paintedMs)} ms (${load.visibleShapes} shapes in view)`,
    );
  }
  holder?.close();

  const painted = loads.map((l) => l.paintedMs);
  const ready = loads.map((l) => l.storeReadyMs);
  console.log(
    JSON.stringify({
      shapes: SHAPES,
      browser_load_ms_p50: round(pct(painted, 0.5)),
      browser_load_ms_p95: round(pct(painted, 0.95)),
      store_ready_ms_p50: round(pct(ready, 0.5)),
      dom_content_loaded_ms_p50: round(pct(loads.map((l) => l.domContentLoadedMs), 0.5)),
      room: holder ? 'warm' : 'cold',
      runs: RUNS,
      painted_ms: painted.map((x) => round(x)),
      store_ready_ms: ready.map((x) => round(x)),
    }),
  );
} finally {
  await browser.close();
  await server.stop();
}
await exitBench(0);
