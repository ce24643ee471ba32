// Regenerates docs/screenshot-live.png, the README's picture of a live frame: two people in a
// room, a sketch drawn with real mouse input inside a live frame, its prompt, the render beside it
// (side view), the settings panel and the HUD, and the other person's cursor.
// Run: npx tsx scripts/screenshots.ts   (a script, not a test, so CI never rewrites the PNG)
// The server runs the tiny random-weight test model, so the render is coloured noise.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { createSharedRoom, launchBrowser, openRoom, waitInPage } from '../test/e2e/browser';
import { ROOT, startServer } from '../test/helpers/server';
// @ts-expect-error plain .mjs module without type declarations
import { ensureBuild } from './ensure-build.mjs';

const VIEWPORT = { width: 1280, height: 800 };
const OUT = join(ROOT, 'docs', 'screenshot-live.png');
const PROMPT = 'red silk evening gown, studio lighting';
/** the frame, in screen pixels of the first tab (both tabs start with the same camera) */
const FRAME = { x: 380, y: 150, side: 360 };
const RENDER_DEADLINE_MS = 60_000;

type Pt = [number, number];

/** A dress outline in units of a 340-wide frame (scaled to FRAME.side): one closed silhouette, the neckline, the waist seam
 * and two skirt folds. */
const DRESS: Pt[][] = [
  [
    [132, 36], [140, 88], [150, 158], [128, 210], [104, 262], [86, 304],
    [120, 312], [150, 304], [170, 314], [190, 304], [220, 312], [254, 304],
    [236, 262], [212, 210], [190, 158], [200, 88], [208, 36],
  ],
  [[140, 88], [155, 104], [170, 112], [185, 104], [200, 88]],
  [[150, 158], [170, 162], [190, 158]],
  [[163, 172], [150, 240], [138, 302]],
  [[178, 172], [190, 240], [204, 302]],
];

/** One stroke with the draw tool: press, move through the points in small steps, release. */
async function drawStroke(page: Page, points: Pt[]) {
  const [sx, sy] = points[0];
  await page.mouse.move(sx, sy);
  await page.mouse.down();
  for (let i = 1; i < points.length; i++) {
    const [x0, y0] = points[i - 1];
    const [x1, y1] = points[i];
    const steps = Math.max(2, Math.round(Math.hypot(x1 - x0, y1 - y0) / 6));
    for (let s = 1; s <= steps; s++) await page.mouse.move(x0 + ((x1 - x0) * s) / steps, y0 + ((y1 - y0) * s) / steps);
  }
  await page.mouse.up();
}

async function main() {
  ensureBuild();
  const server = await startServer({ web: true, model: 'tiny-lcm' });
  const browser = await launchBrowser();
  try {
    // a shared room, as the landing page makes it: Ann opens the owner link, Bob the edit link
    const { links } = await createSharedRoom(server.url);
    const A = await openRoom(browser, server.url, links.owner, {
      participant: { id: 'ann-1', name: 'Ann', color: '#e03131' },
      viewport: VIEWPORT,
    });
    const B = await openRoom(browser, server.url, links.editor, {
      participant: { id: 'bob-1', name: 'Bob', color: '#1971c2' },
      viewport: VIEWPORT,
    });
    const a = A.page;

    // the frame: live-frame tool (shortcut I), dragged out on the canvas
    await a.mouse.click(1100, 650);
    await a.keyboard.press('i');
    await a.mouse.move(FRAME.x, FRAME.y);
    await a.mouse.down();
    await a.mouse.move(FRAME.x + FRAME.side / 2, FRAME.y + FRAME.side / 2, { steps: 5 });
    await a.mouse.move(FRAME.x + FRAME.side, FRAME.y + FRAME.side, { steps: 5 });
    await a.mouse.up();
    const frameId = await a.evaluate(
      () => window.editor!.getCurrentPageShapes().find((s) => s.type === 'live-frame')?.id ?? '',
    );
    if (!frameId) throw new Error('the live-frame tool made no frame');

    // the sketch, with the draw tool
    await a.keyboard.press('d');
    for (const stroke of DRESS) {
      await drawStroke(a, stroke.map(([x, y]) => [FRAME.x + (x * FRAME.side) / 340, FRAME.y + (y * FRAME.side) / 340] as Pt));
    }

    // select the frame by its header, then set the prompt and the side view in the panel
    await a.keyboard.press('Escape');
    await a.keyboard.press('v');
    await a.mouse.click(FRAME.x + 40, FRAME.y - 10);
    await a.waitForSelector(`[data-testid="live-panel"][data-frame-id="${frameId}"]`, { timeout: 10_000 });
    await a.locator('[data-testid="live-prompt"]').click();
    await a.keyboard.type(PROMPT, { delay: 10 });
    await a.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await a.locator('[data-testid="live-panel"] button', { hasText: 'Side' }).click();

    // a render made after the prompt was set, shown beside the frame
    await a.locator(`[data-live-frame-id="${frameId}"] button`, { hasText: 'Render now' }).click();
    const sideImg = `[data-live-frame-id="${frameId}"] img.lc-live-frame__render--side`;
    const seqAfterPrompt = await a.evaluate(
      (sel) => Number(document.querySelector(sel)?.getAttribute('data-seq') ?? 0),
      sideImg,
    );
    await waitInPage(
      a,
      new Function(
        `const img = document.querySelector('${sideImg}');
         return !!img && Number(img.getAttribute('data-seq')) > ${seqAfterPrompt} && img.complete && img.naturalWidth > 0
           && document.querySelector('[data-live-frame-id="${frameId}"] [data-testid="live-state"]')?.textContent === 'idle';`,
      ) as () => boolean,
      RENDER_DEADLINE_MS,
      'a render of the prompted sketch beside the frame',
    );

    // Bob points at the render; Ann's tab shows his cursor
    await B.page.mouse.move(FRAME.x + FRAME.side * 1.6, FRAME.y + FRAME.side * 0.75, { steps: 10 });
    await waitInPage(
      a,
      () => [...document.querySelectorAll('.tl-collaborator__cursor, .tl-nametag')].some((e) => e.textContent?.includes('Bob')),
      10_000,
      "Bob's cursor in Ann's tab",
    );
    await a.waitForTimeout(500); // let the cursor's position settle

    mkdirSync(join(ROOT, 'docs'), { recursive: true });
    await a.screenshot({ path: OUT });
    console.log(`wrote ${OUT}`);
    const errors = [...A.errors, ...B.errors];
    if (errors.length) console.warn(`page errors:\n${errors.join('\n')}`);
  } finally {
    await browser.close();
    await server.stop();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
