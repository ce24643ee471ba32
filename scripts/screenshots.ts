// Regenerates the README's pictures, all at 1280×800, from real chromium pages with real mouse and
// keyboard input: two people in a room, a live frame (a dress sketch and its prompt) in each view,
// the settings panel with its Advanced section open, the history paused, the Share dialog, the
// name asked on a first join, and two pins beside the side view.
//   docs/screenshot.png                      two people: strokes, Bob's cursor, the people pop-up
//   docs/screenshot-live.png                 side view: the render beside the frame, the HUD
//   docs/screenshots/live-frame.png          frame view: the render behind the strokes
//   docs/screenshots/live-lens.png           lens view: the render over the frame
//   docs/screenshots/after-item8.png         the panel at strength 0.85, seed unlocked, Advanced open
//   docs/screenshots/after-item10.png        history paused three renders back
//   docs/screenshots/history-paused.png      paused while Bob renders: "n newer", Back to live
//   docs/screenshots/share-dialog.png        the owner's Share dialog
//   docs/screenshots/name-prompt.png         the name asked of someone following a link
//   docs/screenshots/after-item6.png         side view with two pins clear of its render, captioned
//   (docs/screenshots/before-item6.png, the same steps at 685846a^ with the first pin covering the
//   side render, is not made here: that code is gone)
// Run: npx tsx scripts/screenshots.ts   (a script, not a test, so CI never rewrites the PNGs)
// The server runs the tiny random-weight test model, so the renders are coloured noise.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { createSharedRoom, launchBrowser, openRoom, waitInPage } from '../test/e2e/browser';
import { ROOT, startServer } from '../test/helpers/server';
// @ts-expect-error plain .mjs module without type declarations
import { ensureBuild } from './ensure-build.mjs';

const VIEWPORT = { width: 1280, height: 800 };
const DOCS = join(ROOT, 'docs');
const SHOTS = join(DOCS, 'screenshots');
const PROMPT = 'red silk evening gown, studio lighting';
/** where the frame is dragged out, in screen pixels of Ann's tab (both tabs start with the same camera) */
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

async function shot(page: Page, path: string) {
  await page.waitForTimeout(400); // camera moves and fades settle
  await page.screenshot({ path });
  console.log(`wrote ${path}`);
}

/** The seq of the render on screen for the frame, whichever view (0 before one has loaded). */
const shownSeq = (page: Page, frameId: string) =>
  page.evaluate((fid) => {
    const img =
      document.querySelector<HTMLImageElement>(`[data-live-frame-id="${fid}"] img[data-testid="live-render"]`) ??
      document.querySelector<HTMLImageElement>(`img[data-testid="live-lens"][data-live-frame-id="${fid}"]`);
    return img?.complete && img.naturalWidth > 0 ? Number(img.dataset.seq) : 0;
  }, frameId);

async function waitForNewRender(page: Page, frameId: string, after: number, what: string) {
  await waitInPage(
    page,
    new Function(
      `const img = document.querySelector('[data-live-frame-id="${frameId}"] img[data-testid="live-render"]')
         ?? document.querySelector('img[data-testid="live-lens"][data-live-frame-id="${frameId}"]');
       return !!img && Number(img.dataset.seq) > ${after} && img.complete && img.naturalWidth > 0
         && document.querySelector('[data-live-frame-id="${frameId}"] [data-testid="live-state"]')?.textContent === 'idle';`,
    ) as () => boolean,
    RENDER_DEADLINE_MS,
    what,
  );
}

/** Moves Bob's mouse to where a page point of the canvas is in his tab. */
async function pointAt(bob: Page, page: { x: number; y: number }) {
  const s = await bob.evaluate((p) => window.editor!.pageToScreen(p), page);
  await bob.mouse.move(s.x, s.y, { steps: 10 });
}

async function waitForBobsCursor(ann: Page) {
  await waitInPage(
    ann,
    () => [...document.querySelectorAll('.tl-collaborator__cursor, .tl-nametag')].some((e) => e.textContent?.includes('Bob')),
    10_000,
    "Bob's cursor in Ann's tab",
  );
}

async function main() {
  ensureBuild();
  mkdirSync(SHOTS, { recursive: true });
  const server = await startServer({ web: true, model: 'tiny-lcm' });
  const browser = await launchBrowser();
  try {
    // a shared room, as the landing page makes it: Ann opens the owner link, Bob the edit link
    const { links } = await createSharedRoom(server.url);
    const A = await openRoom(browser, server.url, links.owner, { participant: { id: 'ann-1', name: 'Ann', color: '#e03131' }, viewport: VIEWPORT });
    const B = await openRoom(browser, server.url, links.editor, { participant: { id: 'bob-1', name: 'Bob', color: '#1971c2' }, viewport: VIEWPORT });
    const a = A.page;
    const b = B.page;
    const panel = a.locator('[data-testid="live-panel"]');
    const hud = (testId: string) => a.locator(`[data-live-frame-id="${frameId}"] [data-testid="${testId}"]`);

    // the frame: live-frame tool (shortcut I), dragged out on the canvas
    await a.mouse.click(1000, 650);
    await a.keyboard.press('i');
    await a.mouse.move(FRAME.x, FRAME.y);
    await a.mouse.down();
    await a.mouse.move(FRAME.x + FRAME.side / 2, FRAME.y + FRAME.side / 2, { steps: 5 });
    await a.mouse.move(FRAME.x + FRAME.side, FRAME.y + FRAME.side, { steps: 5 });
    await a.mouse.up();
    const frameId: string = await a.evaluate(() => window.editor!.getCurrentPageShapes().find((s) => s.type === 'live-frame')?.id ?? '');
    if (!frameId) throw new Error('the live-frame tool made no frame');
    const framePage: { x: number; y: number; w: number; h: number } = await a.evaluate((id) => {
      const { x, y, w, h } = window.editor!.getShapePageBounds(id as any)!;
      return { x, y, w, h };
    }, frameId);

    // the sketch, with the draw tool
    await a.keyboard.press('d');
    for (const stroke of DRESS) {
      await drawStroke(a, stroke.map(([x, y]) => [FRAME.x + (x * FRAME.side) / 340, FRAME.y + (y * FRAME.side) / 340] as Pt));
    }

    // select the frame by its header, then set the prompt in the panel and render it
    await a.keyboard.press('Escape');
    await a.keyboard.press('v');
    await a.mouse.click(FRAME.x + 40, FRAME.y - 10);
    await panel.waitFor({ timeout: 10_000 });
    await a.locator('[data-testid="live-prompt"]').click();
    await a.keyboard.type(PROMPT, { delay: 10 });
    await a.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    let seq = await shownSeq(a, frameId);
    await hud('live-render-now').click();
    await waitForNewRender(a, frameId, seq, 'a render of the prompted sketch');

    // frame view: the render behind the strokes; Bob looks on
    await pointAt(b, { x: framePage.x + framePage.w + 120, y: framePage.y + framePage.h * 0.4 });
    await waitForBobsCursor(a);
    await shot(a, join(SHOTS, 'live-frame.png'));

    // lens view: the render over the frame
    await panel.locator('button', { hasText: 'Lens' }).click();
    await a.locator(`img[data-testid="live-lens"][data-live-frame-id="${frameId}"]`).waitFor();
    await shot(a, join(SHOTS, 'live-lens.png'));

    // side view: the render beside the frame (the camera makes room for it); Bob points at it
    await panel.locator('button', { hasText: 'Side' }).click();
    await a.locator(`[data-live-frame-id="${frameId}"] img.lc-live-frame__render--side`).waitFor();
    await pointAt(b, { x: framePage.x + framePage.w * 1.6, y: framePage.y + framePage.h * 0.75 });
    await shot(a, join(DOCS, 'screenshot-live.png'));

    // item 8: strength past 0.8 with the slider's keys, seed unlocked, Advanced open, a stroke
    // selected (tldraw's style panel shows too)
    await panel.locator('[data-testid="live-strength"] input').focus();
    for (let i = 0; i < 7; i++) await a.keyboard.press('ArrowRight');
    await a.locator('[data-testid="live-seed-lock"]').click();
    await panel.locator('[data-testid="live-advanced"] summary').click();
    await a.evaluate((id) => void window.editor!.select(window.editor!.getSortedChildIdsForParent(id as any)[0]), frameId);
    await a.locator('.tlui-style-panel__wrapper').waitFor();
    await shot(a, join(SHOTS, 'after-item8.png'));
    await panel.locator('[data-testid="live-advanced"] summary').click();
    await a.locator('[data-testid="live-seed-lock"]').click();
    await a.evaluate((id) => void window.editor!.select(id as any), frameId);
    await panel.locator('[data-testid="live-strength"] input').focus();
    for (let i = 0; i < 7; i++) await a.keyboard.press('ArrowLeft');
    await panel.locator('button', { hasText: 'Frame' }).click();

    // item 10: a few renders, then three steps back in the history
    for (let k = 0; k < 4; k++) {
      seq = await shownSeq(a, frameId);
      await hud('live-render-now').click();
      await waitForNewRender(a, frameId, seq, `render now #${k + 1}`);
    }
    for (let k = 0; k < 3; k++) await a.locator(`[data-live-frame-id="${frameId}"] button[aria-label="Older render"]`).click();
    await hud('live-paused').waitFor();
    await shot(a, join(SHOTS, 'after-item10.png'));
    // Bob renders meanwhile: Ann's picture and position hold still, "2 newer" waits for her
    for (let k = 0; k < 2; k++) {
      seq = await shownSeq(b, frameId);
      await b.locator(`[data-live-frame-id="${frameId}"] [data-testid="live-render-now"]`).click();
      await waitForNewRender(b, frameId, seq, `Bob's render #${k + 1}`);
    }
    await waitInPage(
      a,
      new Function(`return /2 newer/.test(document.querySelector('[data-live-frame-id="${frameId}"] [data-testid="live-paused"]')?.textContent ?? '');`) as () => boolean,
      RENDER_DEADLINE_MS,
      "Bob's renders held in Ann's tab",
    );
    await pointAt(b, { x: framePage.x + framePage.w * 1.5, y: framePage.y + framePage.h * 0.5 });
    await shot(a, join(SHOTS, 'history-paused.png'));
    await hud('live-back-to-live').click();

    // the Share dialog, with the owner's links loaded
    await a.evaluate(() => void window.editor!.selectNone());
    await a.getByTestId('share-button').click();
    await waitInPage(a, () => !!document.querySelector('[data-testid="share-dialog"] input'), 10_000, 'the share links');
    await shot(a, join(SHOTS, 'share-dialog.png'));
    await a.keyboard.press('Escape');

    // two people: Bob draws beside the frame, Ann opens the people pop-up and sees his cursor
    await b.evaluate(() => void window.editor!.setCurrentTool('draw'));
    const wave = await b.evaluate((f) => window.editor!.pageToScreen({ x: f.x - 40, y: f.y + f.h + 130 }), framePage);
    await drawStroke(b, Array.from({ length: 24 }, (_, i) => [wave.x + i * 22, wave.y + Math.sin(i / 2) * 26] as Pt));
    await pointAt(b, { x: framePage.x + framePage.w + 60, y: framePage.y + framePage.h + 120 });
    await waitForBobsCursor(a);
    await a.getByTestId('people-button').click();
    await shot(a, join(DOCS, 'screenshot.png'));
    await a.keyboard.press('Escape');

    // someone following the edit link for the first time is asked for a name
    const C = await openRoom(browser, server.url, links.editor, {
      participant: { id: 'cat-1', name: 'Curious Quokka', color: '#39B178' },
      viewport: VIEWPORT,
      askName: true,
    });
    await C.page.getByTestId('name-prompt').waitFor();
    await shot(C.page, join(SHOTS, 'name-prompt.png'));

    // item 6: pins land clear of the side view's render and of each other, with a caption. The
    // steps of before-item6.png: the first pin is made in Frame view, then the view goes to Side,
    // Shuffle, a handbag is drawn, and a second pin. Strength 0.10 keeps the sketch legible in the renders, so
    // the side render (with the handbag) is told apart from the first pin (without it).
    await a.evaluate((id) => void window.editor!.select(id as any), frameId);
    await panel.waitFor();
    await panel.locator('[data-testid="live-strength"] input').focus();
    await a.keyboard.press('Home');
    await a.keyboard.press('ArrowRight');
    await a.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    seq = await shownSeq(a, frameId);
    await waitForNewRender(a, frameId, seq, 'a render at strength 0.10');
    const pins = (n: number) =>
      waitInPage(
        a,
        new Function(
          `const shapes = window.editor.getCurrentPageShapes();
           return shapes.filter((s) => s.type === 'image').length === ${n}
             && shapes.filter((s) => s.type === 'text' && s.meta.livePinCaption).length === ${n};`,
        ) as () => boolean,
        15_000,
        `pin ${n} and its caption`,
      );
    seq = await shownSeq(a, frameId);
    await hud('live-pin').click();
    await pins(1);
    await waitForNewRender(a, frameId, seq, 'the render after pin 1 (Pin picks a new seed)');
    await panel.locator('button', { hasText: 'Side' }).click();
    await a.locator(`[data-live-frame-id="${frameId}"] img.lc-live-frame__render--side`).waitFor();
    seq = await shownSeq(a, frameId);
    await panel.locator('button', { hasText: 'Shuffle' }).click();
    await waitForNewRender(a, frameId, seq, 'the side render after Shuffle');
    await a.waitForTimeout(400); // the camera's reveal settles before strokes are placed
    const frameScreen = await a.evaluate((id) => {
      const ed = window.editor!;
      const b = ed.getShapePageBounds(id as any)!;
      const tl = ed.pageToScreen({ x: b.minX, y: b.minY });
      return { x: tl.x, y: tl.y, side: b.w * ed.getZoomLevel() };
    }, frameId);
    const inFrame = (pts: Pt[]) => pts.map(([x, y]) => [frameScreen.x + (x * frameScreen.side) / 340, frameScreen.y + (y * frameScreen.side) / 340] as Pt);
    seq = await shownSeq(a, frameId);
    await a.evaluate(() => (document.activeElement as HTMLElement | null)?.blur()); // keys to the canvas, not the Shuffle button
    await a.keyboard.press('d');
    await drawStroke(a, inFrame([[262, 210], [322, 210], [328, 282], [256, 282], [262, 210]]));
    await drawStroke(a, inFrame([[272, 210], [276, 180], [292, 170], [308, 180], [312, 210]]));
    await a.keyboard.press('Escape');
    await a.keyboard.press('v');
    await waitForNewRender(a, frameId, seq, 'the side render with the handbag');
    await a.evaluate((id) => void window.editor!.select(id as any), frameId);
    await hud('live-pin').click();
    await pins(2);
    await a.waitForTimeout(400); // the camera's reveal of pin 2
    await a.evaluate((id) => void window.editor!.select(id as any), frameId);
    await pointAt(b, { x: framePage.x + framePage.w * 1.6, y: framePage.y + framePage.h * 0.85 }); // Bob points at the side render
    await shot(a, join(SHOTS, 'after-item6.png'));

    const errors = [...A.errors, ...B.errors, ...C.errors];
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
