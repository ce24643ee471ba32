// Issue 14, items 5, 7, 8, 9, 10, 11 and 13, in real chromium pages (1280×800) with the tiny LCM
// model on the server:
// - the settings panel fits the window and holds still: one-line labels, fixed-width buttons, an
//   Advanced section collapsed by default; the side render and pins stay clear of the panels;
// - a late joiner never sees "draw to render 0/0" before the current render arrives;
// - lens view: the render fades while you draw in the frame; the peek is press-and-hold;
// - history: an obvious "Back to live", positions that hold still while paused, Render now and
//   drawing return to live;
// - Pin: its tooltip says it re-shuffles the seed, it is disabled offline, and its error is gone
//   once the connection is back; the offline notice is in words.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server';
import { createSharedRoom, launchBrowser, openRoom, waitInPage, type RoomPage } from './browser';

const RENDER_DEADLINE_MS = 30_000;
const VIEWPORT = { width: 1280, height: 800 };

let server: TestServer;
let browser: Browser;
let A: RoomPage;
let B: RoomPage;
let editLink = '';
let frameId = '';

type Rect = { x: number; y: number; width: number; height: number };
const overlaps = (p: Rect, q: Rect) =>
  p.x < q.x + q.width && q.x < p.x + p.width && p.y < q.y + q.height && q.y < p.y + p.height;
const inViewport = (r: Rect) => r.x >= 0 && r.y >= 0 && r.x + r.width <= VIEWPORT.width && r.y + r.height <= VIEWPORT.height;

const inFrame = (page: Page, testId: string) => page.locator(`[data-live-frame-id="${frameId}"] [data-testid="${testId}"]`);
const panel = (page: Page) => page.locator('[data-testid="live-panel"]');

/** The seq of the render on screen for the frame (frame or side view, or the lens), once loaded; 0 if none. */
function shownSeq(page: Page): Promise<number> {
  return page.evaluate((fid) => {
    const img =
      document.querySelector<HTMLImageElement>(`[data-live-frame-id="${fid}"] img[data-testid="live-render"]`) ??
      document.querySelector<HTMLImageElement>(`img[data-testid="live-lens"][data-live-frame-id="${fid}"]`);
    return img && img.complete && img.naturalWidth > 0 ? Number(img.dataset.seq) : 0;
  }, frameId);
}

async function waitForSeqAbove(page: Page, seq: number, what: string): Promise<number> {
  const end = Date.now() + RENDER_DEADLINE_MS;
  while (Date.now() < end) {
    const now = await shownSeq(page);
    if (now > seq) return now;
    await page.waitForTimeout(50);
  }
  throw new Error(`timed out after ${RENDER_DEADLINE_MS} ms waiting for ${what}`);
}

/** "i/n" of the HUD. */
async function position(page: Page): Promise<{ i: number; n: number }> {
  const [i, n] = ((await inFrame(page, 'live-history').textContent()) ?? '0/0').split('/').map(Number);
  return { i, n };
}

/** A stroke with the draw tool, in frame-relative page units. */
async function drawInFrame(page: Page, from: [number, number], steps = 10) {
  const f = await page.evaluate((id) => {
    const ed = window.editor!;
    ed.setCurrentTool('draw');
    const b = ed.getShapePageBounds(id as any)!;
    return { ...ed.pageToScreen({ x: b.minX, y: b.minY }), z: ed.getZoomLevel() };
  }, frameId);
  const at = (dx: number, dy: number) => [f.x + dx * f.z, f.y + dy * f.z] as const;
  await page.mouse.move(...at(...from));
  await page.mouse.down();
  for (let i = 1; i <= steps; i++) await page.mouse.move(...at(from[0] + i * 14, from[1] + i * 9));
  await page.mouse.up();
  await page.evaluate(() => void window.editor!.setCurrentTool('select'));
}

const selectFrame = (page: Page) => page.evaluate((id) => void window.editor!.select(id as any), frameId);

/** Where the panel's controls are, and whether its labels and hints keep to one line. */
function measurePanel(page: Page) {
  return page.evaluate(() => {
    const p = document.querySelector('[data-testid="live-panel"]')!;
    const r = (el: Element | null) => {
      const b = el!.getBoundingClientRect();
      return { x: Math.round(b.x), y: Math.round(b.y), width: Math.round(b.width), height: Math.round(b.height) };
    };
    const controls: Record<string, ReturnType<typeof r>> = {
      prompt: r(p.querySelector('[data-testid="live-prompt"]')),
      strength: r(p.querySelector('[data-testid="live-strength"] input')),
      seed: r(p.querySelector('[data-testid="live-seed"] input')),
      lock: r(p.querySelector('[data-testid="live-seed-lock"]')),
      shuffle: r(p.querySelector('[data-testid="live-seed"] button:last-child')),
      view: r(p.querySelector('[data-testid="live-view"]')),
      advanced: r(p.querySelector('[data-testid="live-advanced"] summary')),
    };
    for (const [i, el] of [...p.querySelectorAll('[data-testid="live-advanced-body"] input, [data-testid="live-advanced-body"] select')].entries()) {
      controls[`advanced${i}`] = r(el);
    }
    const oneLine = [...p.querySelectorAll('.lc-panel__label, .lc-panel__hint:not(p)')].every((el) => el.getBoundingClientRect().height <= 18);
    const seed = p.querySelector<HTMLInputElement>('[data-testid="live-seed"] input')!;
    return {
      panel: r(p),
      controls,
      oneLine,
      overflows: p.scrollHeight > p.clientHeight + 1,
      seedFits: seed.scrollWidth <= seed.clientWidth,
    };
  });
}

describe('live frame panel, HUD and history (issue 14: items 5, 7, 8, 9, 10, 11, 13)', () => {
  beforeAll(async () => {
    server = await startServer({ web: true, model: 'tiny-lcm' });
    browser = await launchBrowser();
    editLink = (await createSharedRoom(server.url)).links.editor;
    A = await openRoom(browser, server.url, editLink, { participant: { id: 'ann-1', name: 'Ann', color: '#e03131' }, viewport: VIEWPORT });
    B = await openRoom(browser, server.url, editLink, { participant: { id: 'bob-1', name: 'Bob', color: '#1971c2' }, viewport: VIEWPORT });
    await A.page.locator('[data-testid="live-add"]').click();
    frameId = await A.page.evaluate(() => window.editor!.getCurrentPageShapes().find((s) => s.type === 'live-frame')?.id ?? '');
    expect(frameId).toMatch(/^shape:/);
    await drawInFrame(A.page, [60, 60]);
    await waitForSeqAbove(A.page, 0, 'the first render in A');
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('the panel fits 1280×800 at every strength and seed state, and its controls hold still', async () => {
    const a = A.page;
    await selectFrame(a);
    await panel(a).waitFor();
    expect(await a.locator('[data-testid="live-advanced"]').getAttribute('open')).toBeNull(); // collapsed by default
    const set = (props: Record<string, unknown>) =>
      a.evaluate(([id, p]) => void window.editor!.updateShape({ id: id as any, type: 'live-frame', props: p as any }), [frameId, props] as const);
    await set({ seed: 4294967295 }); // the longest seed

    for (const advanced of [false, true]) {
      if (advanced) {
        await a.locator('[data-testid="live-advanced"] summary').click();
        // measured once its content is laid out (the first measurement is the reference)
        await a.locator('[data-testid="live-size"]').waitFor({ state: 'visible' });
        await a.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      }
      let first: Awaited<ReturnType<typeof measurePanel>> | null = null;
      for (const seedLocked of [true, false]) {
        for (let s = 1; s <= 20; s++) {
          await set({ strength: s * 0.05, seedLocked });
          const m = await measurePanel(a);
          const where = `strength ${(s * 0.05).toFixed(2)}, seed ${seedLocked ? 'locked' : 'unlocked'}, advanced ${advanced ? 'open' : 'closed'}`;
          expect(inViewport(m.panel), `${where}: panel ${JSON.stringify(m.panel)}`).toBe(true);
          expect(m.oneLine, `${where}: every label and hint on one line`).toBe(true);
          expect(m.seedFits, `${where}: the seed's digits fit`).toBe(true);
          if (!advanced) expect(m.overflows, `${where}: nothing scrolled out of sight`).toBe(false);
          first ??= m;
          expect(m.controls, where).toEqual(first.controls);
          expect(m.panel, where).toEqual(first.panel);
        }
      }
    }

    // crossing 0.8 with the keyboard on the slider itself: the zone word changes, nothing moves
    await set({ strength: 0.75, seedLocked: true });
    const before = await measurePanel(a);
    await a.locator('[data-testid="live-strength"] input').focus();
    await a.keyboard.press('ArrowRight');
    await expect.poll(() => a.evaluate((id) => (window.editor!.getShape(id as any)!.props as any).strength, frameId)).toBeCloseTo(0.8, 5);
    expect(await a.locator('[data-testid="live-strength-zone"]').textContent()).toBe('reinvents the sketch');
    expect((await measurePanel(a)).controls).toEqual(before.controls);
    // the seed lock is a real button; its width does not change with its word
    await a.locator('[data-testid="live-seed-lock"]').click();
    expect((await measurePanel(a)).controls).toEqual(before.controls);
    await a.locator('[data-testid="live-seed-lock"]').click();
    await a.locator('[data-testid="live-advanced"] summary').click(); // collapsed again
    await set({ strength: 0.5, seed: 42 });
  });

  it('sizes and costs read in words, with the numbers as details (item 9)', async () => {
    const a = A.page;
    await a.locator('[data-testid="live-advanced"] summary').click();
    const size = a.locator('[data-testid="live-size"]');
    await size.waitFor();
    expect(await size.locator('option').allTextContents()).toContain('512² · much slower');
    await size.selectOption('512');
    const cost = inFrame(a, 'live-cost');
    await expect.poll(() => cost.textContent()).toBe('Bigger sizes are slower on this machine');
    expect(await cost.getAttribute('title')).toMatch(/^512² × 1 step: about 4\.0× the time of 256² × 1 step/);
    await size.selectOption('256');
    await expect.poll(() => cost.count()).toBe(0);
    await a.locator('[data-testid="live-advanced"] summary').click();
    const hud = (await inFrame(a, 'live-hud').innerText()).replace(/\s+/g, ' ');
    expect(hud).not.toMatch(/r\/s|CPU:|²/);
  });

  it('a late joiner sees the current render, never "draw to render 0/0" first (item 5)', async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    try {
      await context.addInitScript(() => {
        localStorage.setItem('livecanvas:participant', JSON.stringify({ id: 'cat-1', name: 'Cat', color: '#2f9e44' }));
        localStorage.setItem('livecanvas:name-asked', '1');
        const seen: string[] = [];
        (window as any).__hudSeen = seen;
        new MutationObserver(() => {
          const state = document.querySelector('[data-testid="live-state"]')?.textContent;
          const history = document.querySelector('[data-testid="live-history"]')?.textContent;
          if (state == null) return;
          const now = `${state} ${history}`;
          if (seen.at(-1) !== now) seen.push(now);
        }).observe(document, { subtree: true, childList: true, characterData: true });
      });
      const c = await context.newPage();
      await c.goto(`${server.url}${editLink}`);
      await expect.poll(() => shownSeq(c), { timeout: 15_000 }).toBeGreaterThan(0);
      const seen: string[] = await c.evaluate(() => (window as any).__hudSeen);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.filter((s) => /draw to render|0\/0/.test(s))).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('the side render and a pin stay clear of tldraw’s style panel and of our panel (items 8, 13)', async () => {
    const a = A.page;
    await selectFrame(a);
    await panel(a).locator('button', { hasText: 'Side' }).click();
    const side = a.locator(`[data-live-frame-id="${frameId}"] img.lc-live-frame__render--side`);
    await side.waitFor();
    await a.waitForTimeout(400); // the camera's move
    // a stroke of the frame selected: tldraw's style panel and ours are both showing
    await a.evaluate((id) => {
      const ed = window.editor!;
      ed.select(ed.getSortedChildIdsForParent(id as any)[0]);
    }, frameId);
    await a.locator('.tlui-style-panel__wrapper').waitFor();
    await panel(a).waitFor();
    const uiRects = async () =>
      Promise.all(
        ['.tlui-style-panel__wrapper', '[data-testid="live-panel"]', '.lc-room-panel', '.tlui-menu-zone', '.tlui-main-toolbar'].map(async (sel) => ({
          sel,
          rect: (await a.locator(sel).boundingBox())!,
        })),
      );
    const sideRect = (await side.boundingBox())!;
    const frameRect = (await a.locator(`[data-live-frame-id="${frameId}"]`).boundingBox())!;
    for (const { sel, rect } of await uiRects()) {
      expect(overlaps(sideRect, rect), `side render under ${sel}`).toBe(false);
      expect(overlaps(frameRect, rect), `frame under ${sel}`).toBe(false);
    }
    expect(inViewport(sideRect)).toBe(true);

    // a pin: on screen, clear of the panels too
    await inFrame(a, 'live-pin').click();
    await waitInPage(a, () => window.editor!.getCurrentPageShapes().some((s) => s.type === 'image'), 15_000, 'the pin');
    await a.waitForTimeout(400);
    const pinRect = await a.evaluate(() => {
      const ed = window.editor!;
      const b = ed.getShapePageBounds(ed.getCurrentPageShapes().find((s) => s.type === 'image')!)!;
      const tl = ed.pageToScreen({ x: b.minX, y: b.minY });
      const br = ed.pageToScreen({ x: b.maxX, y: b.maxY });
      return { x: tl.x, y: tl.y, width: br.x - tl.x, height: br.y - tl.y };
    });
    expect(inViewport(pinRect), JSON.stringify(pinRect)).toBe(true);
    for (const { sel, rect } of await uiRects()) expect(overlaps(pinRect, rect), `pin under ${sel}`).toBe(false);
    // with only the frame selected, tldraw's style panel (a lone opacity slider) stays away
    await selectFrame(a);
    await expect.poll(() => a.locator('.tlui-style-panel__wrapper').count()).toBe(0);
    await panel(a).locator('button', { hasText: 'Frame' }).click();
  });

  it('lens view: the render fades while you draw in the frame; the peek shows the sketch only while held (item 7)', async () => {
    const a = A.page;
    await selectFrame(a);
    await panel(a).locator('button', { hasText: 'Lens' }).click();
    const lens = a.locator(`img[data-testid="live-lens"][data-live-frame-id="${frameId}"]`);
    await lens.waitFor();
    const opacity = () => lens.evaluate((el) => Number(getComputedStyle(el).opacity));
    expect(await opacity()).toBe(1);

    // drawing: pressed with the draw tool inside the frame
    const f = await a.evaluate((id) => {
      const ed = window.editor!;
      ed.setCurrentTool('draw');
      const b = ed.getShapePageBounds(id as any)!;
      return { ...ed.pageToScreen({ x: b.minX, y: b.minY }), z: ed.getZoomLevel() };
    }, frameId);
    await a.mouse.move(f.x + 200 * f.z, f.y + 60 * f.z);
    await a.mouse.down();
    for (let i = 1; i <= 8; i++) await a.mouse.move(f.x + (200 - i * 12) * f.z, f.y + (60 + i * 20) * f.z);
    await expect.poll(opacity, { timeout: 2000 }).toBeLessThan(0.5);
    expect(await lens.getAttribute('data-faded')).toBe('true');
    await a.mouse.up();
    await expect.poll(opacity, { timeout: 2000 }).toBe(1);
    await a.evaluate(() => void window.editor!.setCurrentTool('select'));

    // the peek: press and hold shows the sketch, release shows the render again
    const peek = inFrame(a, 'live-peek');
    await expect.poll(() => peek.textContent()).toBe('Hold to peek');
    const box = (await peek.boundingBox())!;
    await a.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await a.mouse.down();
    await expect.poll(() => lens.count()).toBe(0);
    await a.waitForTimeout(600); // still held: still peeking
    expect(await lens.count()).toBe(0);
    expect(await peek.textContent()).toBe('Showing sketch');
    await a.mouse.up();
    await expect.poll(() => lens.count()).toBe(1);
    // a click is not a toggle: the render is back right after it
    await peek.click();
    await a.waitForTimeout(300);
    expect(await lens.count()).toBe(1);
    // held with the keyboard too
    await peek.focus();
    await a.keyboard.down('Space');
    await expect.poll(() => lens.count()).toBe(0);
    await a.keyboard.up('Space');
    await expect.poll(() => lens.count()).toBe(1);
    await selectFrame(a);
    await panel(a).locator('button', { hasText: 'Frame' }).click();
  });

  it('history: paused shows "Back to live", positions hold still, Render now and drawing return to live (item 10)', async () => {
    const a = A.page;
    // a few renders to step through
    for (let k = 0; k < 3; k++) {
      const seq = await shownSeq(a);
      await inFrame(a, 'live-render-now').click();
      await waitForSeqAbove(a, seq, `render now #${k + 1}`);
    }
    const live = await position(a);
    expect(live.i).toBe(live.n);
    const paused = inFrame(a, 'live-paused');
    expect(await paused.count()).toBe(0);

    await a.locator(`[data-live-frame-id="${frameId}"] button[aria-label="Older render"]`).click();
    await a.locator(`[data-live-frame-id="${frameId}"] button[aria-label="Older render"]`).click();
    await paused.waitFor();
    const at = await position(a);
    expect(at).toEqual({ i: live.n - 2, n: live.n });
    expect(await paused.textContent()).toContain(`Paused on render ${live.n - 2} of ${live.n}`);
    const pausedSeq = await shownSeq(a);
    const back = inFrame(a, 'live-back-to-live');
    expect(await back.isVisible()).toBe(true);

    // someone else renders meanwhile: A's picture and its position stay put
    const newestBefore = await shownSeq(B.page);
    await B.page.evaluate((id) => void window.editor!.updateShape({ id: id as any, type: 'live-frame', props: { strength: 0.55 } as any }), frameId);
    const fromB = await waitForSeqAbove(B.page, newestBefore, "B's render");
    await expect.poll(() => paused.textContent(), { timeout: RENDER_DEADLINE_MS }).toContain('newer');
    expect(await position(a)).toEqual(at);
    expect(await shownSeq(a)).toBe(pausedSeq);

    // Back to live: the newest render, the position at the end
    await back.click();
    await expect.poll(() => paused.count()).toBe(0);
    // the live picture is put back on the next frame: read it when it is there
    await expect.poll(() => shownSeq(a), { timeout: 5_000 }).toBeGreaterThanOrEqual(fromB);
    const after = await position(a);
    expect(after.i).toBe(after.n);

    // Render now while paused: back to live, and the new render is what shows
    let newest = await shownSeq(a);
    await a.locator(`[data-live-frame-id="${frameId}"] button[aria-label="Older render"]`).click();
    await paused.waitFor();
    await inFrame(a, 'live-render-now').click();
    await expect.poll(() => paused.count()).toBe(0);
    newest = await waitForSeqAbove(a, newest, 'the render asked for while paused');

    // drawing while paused: back to live too
    await a.locator(`[data-live-frame-id="${frameId}"] button[aria-label="Older render"]`).click();
    await paused.waitFor();
    await drawInFrame(a, [40, 200], 6);
    await expect.poll(() => paused.count(), { timeout: RENDER_DEADLINE_MS }).toBe(0);
    await waitForSeqAbove(a, newest, 'the render of the stroke drawn while paused');
    expect(A.errors).toEqual([]);
  });

  it('Pin says it re-shuffles the seed, is disabled offline, and its error is gone after reconnecting (items 9, 11)', async () => {
    const a = A.page;
    const pin = inFrame(a, 'live-pin');
    expect(await pin.getAttribute('title')).toMatch(/new seed, even when the seed is locked/);

    // a render too old to pin: fill the server's history (20), look at the oldest, render more
    while ((await position(a)).n < 20) {
      const seq = await shownSeq(a);
      await inFrame(a, 'live-render-now').click();
      await waitForSeqAbove(a, seq, 'one more render');
    }
    await a.waitForTimeout(1500); // the last stroke's trailing snapshot would return to live
    for (let k = 0; k < 60 && (await position(a)).i > 1; k++) {
      await a.locator(`[data-live-frame-id="${frameId}"] button[aria-label="Older render"]`).click();
    }
    expect((await position(a)).i).toBe(1);
    for (let k = 0; k < 2; k++) {
      const seq = await shownSeq(B.page);
      await B.page.locator(`[data-live-frame-id="${frameId}"] [data-testid="live-render-now"]`).click();
      await waitForSeqAbove(B.page, seq, `B's render #${k + 1}`);
    }
    const newer = async () => Number(/(\d+) newer/.exec((await inFrame(a, 'live-paused').textContent()) ?? '')?.[1] ?? 0);
    await expect.poll(newer, { timeout: RENDER_DEADLINE_MS }).toBeGreaterThanOrEqual(2);
    expect((await position(a)).i).toBe(1); // still on the oldest
    await pin.click();
    const pinError = inFrame(a, 'live-pin-error');
    await expect.poll(() => pinError.textContent(), { timeout: 15_000 }).toMatch(/too old to pin/);

    // offline: Pin disabled, the notice in words
    const { port, dataDir } = server;
    await server.stop();
    await expect.poll(() => inFrame(a, 'live-state').textContent(), { timeout: 15_000 }).toMatch(/^offline/);
    expect(await pin.isDisabled()).toBe(true);
    expect(await pin.getAttribute('title')).toMatch(/^Offline/);
    const roomError = a.getByTestId('room-error');
    await expect.poll(() => roomError.count(), { timeout: 20_000 }).toBe(1);
    expect(await roomError.innerText()).toContain('Offline: your edits are kept and sent when the connection is back');
    expect(await roomError.innerText()).not.toMatch(/xhr|poll|websocket/i);

    // back: the stale error is gone, Pin usable again
    server = await startServer({ web: true, model: 'tiny-lcm', port, dataDir });
    await expect.poll(() => a.getByTestId('connection-status').getAttribute('data-status'), { timeout: 30_000 }).toBe('connected');
    await expect.poll(() => pinError.count(), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => pin.isDisabled(), { timeout: 10_000 }).toBe(false);
    expect(await roomError.count()).toBe(0);
  });
});
