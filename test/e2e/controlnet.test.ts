// Issue 13, acceptance 3, in two real chromium pages (1280×800) on one shared room, with the tiny
// ControlNet model on the server (MODELS=tiny-lcm-controlnet,tiny-lcm: the first is the default,
// the second has no ControlNet):
// - A switches a live frame's shape guide to Scribble and changes how firmly it holds; B's panel
//   shows both, and both pages get the render made after the change;
// - Refine in A: B sees its progress, and a larger (512²) image lands on the canvas of both,
//   captioned "refined by Ann";
// - a frame whose model has no ControlNet (picked by name: both models are offered) says why and
//   how to get one under the shape guide.
// With LC_SCREENSHOTS=<dir> it saves the panel and the refined image there (docs/screenshots).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server';
import { createSharedRoom, launchBrowser, openRoom, setAdvanced, waitInPage, type RoomPage } from './browser';

const RENDER_DEADLINE_MS = 30_000;
const VIEWPORT = { width: 1280, height: 800 };
const SCREENSHOTS = process.env.LC_SCREENSHOTS;

let server: TestServer;
let browser: Browser;
let A: RoomPage;
let B: RoomPage;
let frameId = '';

const inFrame = (page: Page, testId: string, id = frameId) => page.locator(`[data-live-frame-id="${id}"] [data-testid="${testId}"]`);
const panel = (page: Page) => page.locator('[data-testid="live-panel"]');
const selectFrame = (page: Page, id = frameId) => page.evaluate((fid) => void window.editor!.select(fid as any), id);
const frameProps = (page: Page, id = frameId) => page.evaluate((fid) => window.editor!.getShape(fid as any)!.props as Record<string, unknown>, id);

/** The seq of the render on the frame once its image has loaded; 0 if none. */
function shownSeq(page: Page, id = frameId): Promise<number> {
  return page.evaluate((fid) => {
    const img = document.querySelector<HTMLImageElement>(`[data-live-frame-id="${fid}"] img[data-testid="live-render"]`);
    return img && img.complete && img.naturalWidth > 0 ? Number(img.dataset.seq) : 0;
  }, id);
}

async function waitForSeqAbove(page: Page, seq: number, what: string): Promise<number> {
  await expect.poll(() => shownSeq(page), { timeout: RENDER_DEADLINE_MS, message: what }).toBeGreaterThan(seq);
  return shownSeq(page);
}

/** A zigzag stroke with the draw tool, in frame-relative page units. */
async function drawInFrame(page: Page, id: string, from: [number, number], steps = 10) {
  const f = await page.evaluate((fid) => {
    const ed = window.editor!;
    ed.setCurrentTool('draw');
    const b = ed.getShapePageBounds(fid as any)!;
    return { ...ed.pageToScreen({ x: b.minX, y: b.minY }), z: ed.getZoomLevel() };
  }, id);
  const at = (dx: number, dy: number) => [f.x + dx * f.z, f.y + dy * f.z] as const;
  await page.mouse.move(...at(...from));
  await page.mouse.down();
  for (let i = 1; i <= steps; i++) await page.mouse.move(...at(from[0] + i * 16, from[1] + (i % 2 ? 60 : 0) + i * 4));
  await page.mouse.up();
  await page.evaluate(() => void window.editor!.setCurrentTool('select'));
}

/** The refined images on a page: their caption meta and the size of the stored image. */
function refinedPins(page: Page) {
  return page.evaluate(() => {
    const ed = window.editor!;
    return ed
      .getCurrentPageShapes()
      .filter((s) => s.type === 'image' && (s.meta as any).livePin?.refined)
      .map((s) => {
        const asset = ed.getAsset((s.props as any).assetId)!;
        return { id: s.id as string, w: (s.props as any).w, h: (s.props as any).h, alt: (s.props as any).altText as string, asset: { w: (asset.props as any).w, h: (asset.props as any).h, src: (asset.props as any).src as string }, meta: (s.meta as any).livePin };
      });
  });
}

describe('ControlNet and Refine in the browser (issue 13, acceptance 3)', () => {
  beforeAll(async () => {
    server = await startServer({ web: true, env: { MODELS: 'tiny-lcm-controlnet,tiny-lcm' } });
    browser = await launchBrowser();
    const link = (await createSharedRoom(server.url)).links.editor;
    A = await openRoom(browser, server.url, link, { participant: { id: 'ann-1', name: 'Ann', color: '#e03131' }, viewport: VIEWPORT });
    B = await openRoom(browser, server.url, link, { participant: { id: 'bob-1', name: 'Bob', color: '#1971c2' }, viewport: VIEWPORT });
    // B keeps every refine progress line it shows
    await B.page.evaluate(() => {
      const seen: string[] = [];
      (window as any).__refineSeen = seen;
      new MutationObserver(() => {
        for (const el of document.querySelectorAll('[data-testid="live-refine-status"]')) {
          const t = el.textContent ?? '';
          if (seen.at(-1) !== t) seen.push(t);
        }
      }).observe(document, { subtree: true, childList: true, characterData: true });
    });
    if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('A switches to Scribble and changes the hold; B’s panel shows it and both get the render after the change', async () => {
    const a = A.page;
    await a.locator('[data-testid="live-add"]').click();
    frameId = await a.evaluate(() => window.editor!.getCurrentPageShapes().find((s) => s.type === 'live-frame')?.id ?? '');
    expect(frameId).toMatch(/^shape:/);
    await selectFrame(a);
    await a.locator('[data-testid="live-prompt"]').fill('a stone bridge over a river');
    await drawInFrame(a, frameId, [30, 80]);
    await waitForSeqAbove(a, 0, 'the first render in A');
    await waitForSeqAbove(B.page, 0, 'the first render in B');

    await selectFrame(a);
    const control = panel(a).locator('[data-testid="live-control"]');
    expect(await control.locator('button[aria-pressed="true"]').textContent()).toBe('None');
    expect(await panel(a).locator('[data-testid="live-control-scale"] input').isDisabled()).toBe(true);
    const before = { a: await shownSeq(a), b: await shownSeq(B.page) };
    await control.locator('button', { hasText: 'Scribble' }).click();
    expect(await a.locator('[data-testid="live-control-hint"]').textContent()).toMatch(/keeps your lines/);
    const scale = panel(a).locator('[data-testid="live-control-scale"] input');
    await expect.poll(() => scale.isDisabled()).toBe(false);
    await scale.focus();
    for (let i = 0; i < 6; i++) await a.keyboard.press('ArrowRight'); // 1.00 → 1.30
    await expect.poll(async () => (await frameProps(a)).controlScale).toBeCloseTo(1.3, 5);
    expect(await panel(a).locator('[data-testid="live-control-scale"] .lc-panel__value').textContent()).toBe('1.30');
    expect(await a.locator('[data-testid="live-control-scale-zone"]').textContent()).toBe('rigid: follows the lines closely');

    // B: the frame's props and its panel
    await expect.poll(async () => (await frameProps(B.page)).control, { timeout: 5000 }).toBe('scribble');
    await expect.poll(async () => (await frameProps(B.page)).controlScale, { timeout: 5000 }).toBeCloseTo(1.3, 5);
    await selectFrame(B.page);
    const bPanel = panel(B.page);
    await bPanel.waitFor();
    expect(await bPanel.locator('[data-testid="live-control"] button[aria-pressed="true"]').textContent()).toBe('Scribble');
    expect(await bPanel.locator('[data-testid="live-control-scale"] .lc-panel__value').textContent()).toBe('1.30');
    expect(await bPanel.locator('[data-testid="live-control-hint"]').textContent()).toMatch(/keeps your lines/);

    // both get a render made after the change, and the frame is fine with its ControlNet
    await waitForSeqAbove(a, before.a, 'a render in A after the change');
    await waitForSeqAbove(B.page, before.b, 'a render in B after the change');
    await a.waitForTimeout(1000); // the scale's last keypress renders too
    for (const p of [a, B.page]) expect(await inFrame(p, 'live-state').getAttribute('class')).not.toMatch(/--error/);
    expect(await inFrame(a, 'live-state').getAttribute('title')).toMatch(/^rendered by tiny-lcm-controlnet · 256×256 · seed \d+$/);

    // the timing in Advanced: a two-handle range
    await setAdvanced(panel(a), true);
    const timing = panel(a).locator('[data-testid="live-control-timing"]');
    await timing.locator('input[data-handle="end"]').focus();
    for (let i = 0; i < 4; i++) await a.keyboard.press('ArrowLeft'); // end 1 → 0.8
    await expect.poll(async () => (await frameProps(a)).controlEnd).toBeCloseTo(0.8, 5);
    expect(await timing.locator('.lc-panel__value').textContent()).toBe('0%–80%');
    expect(await timing.locator('[data-testid="live-control-timing-zone"]').textContent()).toBe('composition, then free for the last details');
    // the start handle dragged with the mouse to a quarter (the end handle lies over the same track)
    const track = (await timing.locator('input[data-handle="start"]').boundingBox())!;
    const xAt = (f: number) => track.x + 8 + f * (track.width - 16);
    await a.mouse.move(xAt(0), track.y + track.height / 2);
    await a.mouse.down();
    await a.mouse.move(xAt(0.15), track.y + track.height / 2, { steps: 4 });
    await a.mouse.move(xAt(0.25), track.y + track.height / 2, { steps: 4 });
    await a.mouse.up();
    await expect.poll(async () => (await frameProps(a)).controlStart).toBeCloseTo(0.25, 5);
    expect(await timing.locator('.lc-panel__value').textContent()).toBe('25%–80%');
    expect(await timing.locator('[data-testid="live-control-timing-zone"]').textContent()).toBe('the middle of the render only');
    const m = await a.evaluate(() => {
      const p = document.querySelector('[data-testid="live-panel"]')!.getBoundingClientRect();
      const oneLine = [...document.querySelectorAll('[data-testid="live-panel"] .lc-panel__label, [data-testid="live-panel"] .lc-panel__hint:not(p)')].every((el) => el.getBoundingClientRect().height <= 18);
      return { bottom: p.bottom, right: p.right, oneLine };
    });
    expect(m.bottom).toBeLessThanOrEqual(VIEWPORT.height);
    expect(m.oneLine).toBe(true);
    if (SCREENSHOTS) await a.screenshot({ path: join(SCREENSHOTS, 'controlnet-panel.png') });
    await setAdvanced(panel(a), false);
    await expect.poll(async () => (await frameProps(B.page)).controlEnd, { timeout: 5000 }).toBeCloseTo(0.8, 5);
  });

  it('Refine in A: B sees the progress, and a 512² image lands beside the frame on both pages', async () => {
    const a = A.page;
    await a.evaluate(() => void window.editor!.selectNone());
    const refine = inFrame(a, 'live-refine');
    expect(await refine.getAttribute('title')).toMatch(/at 512×512 with 4 steps/);
    await refine.click();
    await expect.poll(async () => (await refinedPins(a)).length, { timeout: RENDER_DEADLINE_MS }).toBe(1);
    const [pin] = await refinedPins(a);
    expect(pin.asset.w).toBeGreaterThanOrEqual(512);
    expect(pin.asset.h).toBeGreaterThanOrEqual(512);
    expect(pin.meta).toMatchObject({ frameId, refined: true, pinnedBy: 'Ann', prompt: 'a stone bridge over a river' });
    expect(pin.alt).toContain('refined by Ann');
    await expect.poll(() => inFrame(a, 'live-refine-status').textContent()).toMatch(/^Refined 512×512: placed beside the frame/);

    // B: the same image (synced), the stored JPEG really 512², and the progress it was shown
    await expect.poll(async () => (await refinedPins(B.page)).map((p) => p.id), { timeout: 10_000 }).toEqual([pin.id]);
    const natural = await B.page.evaluate(async (src) => {
      const img = new Image();
      img.src = src;
      await img.decode();
      return [img.naturalWidth, img.naturalHeight];
    }, pin.asset.src);
    expect(natural).toEqual([512, 512]);
    await waitInPage(
      B.page,
      () => [...document.querySelectorAll('img')].some((i) => i.src.includes('/api/assets/') && i.complete && i.naturalWidth === 512),
      10_000,
      'the refined image drawn in B',
    );
    const seen: string[] = await B.page.evaluate(() => (window as any).__refineSeen);
    expect(seen.some((t) => /^Refin(e|ing) 512×512.*\(asked by Ann\)/.test(t)), JSON.stringify(seen)).toBe(true);
    expect(seen.at(-1)).toMatch(/^Refined 512×512 \(asked by Ann\): placed beside the frame/);
    const caption: string = await B.page.evaluate((id: string) => {
      const ed = window.editor!;
      const t = ed.getCurrentPageShapes().find((s) => s.type === 'text' && s.meta.livePinCaption === id);
      return t ? (ed.getShapeUtil(t).getText(t) ?? '') : '';
    }, pin.id);
    expect(caption).toMatch(/refined by Ann/);
    if (SCREENSHOTS) {
      await a.waitForTimeout(500); // the camera's move to show the image
      await a.screenshot({ path: join(SCREENSHOTS, 'controlnet-refined.png') });
    }
    expect([...A.errors, ...B.errors]).toEqual([]);
  });

  it('a frame whose model has no ControlNet says why and how to get one, under the shape guide', async () => {
    const a = A.page;
    // a second frame under the first, on a model without ControlNets, in the middle of the screen
    const other = await a.evaluate((first) => {
      const ed = window.editor!;
      const id = 'shape:no-controlnet' as any;
      const b = ed.getShapePageBounds(first as any)!;
      ed.createShape({ id, type: 'live-frame', x: b.minX, y: b.maxY + 120, props: { prompt: 'a boat' } as any });
      ed.select(id);
      ed.setCamera({ ...ed.getCamera(), z: 1 });
      ed.centerOnPoint(ed.getShapePageBounds(id)!.center);
      return id as string;
    }, frameId);
    // the server runs both models: each is offered by name, its first the default
    await setAdvanced(panel(a), true);
    const model = panel(a).locator('[data-testid="live-model"]');
    await expect.poll(() => model.locator('option').allTextContents()).toEqual(['Server default (tiny-lcm-controlnet)', 'tiny-lcm-controlnet', 'tiny-lcm']);
    await model.selectOption('tiny-lcm');
    await setAdvanced(panel(a), false);
    expect((await frameProps(a, other)).model).toBe('tiny-lcm');
    await drawInFrame(a, other, [30, 80], 6);
    await expect.poll(() => shownSeq(a, other), { timeout: RENDER_DEADLINE_MS }).toBeGreaterThan(0);
    await selectFrame(a, other);
    await panel(a).locator('[data-testid="live-control"] button', { hasText: 'Edges' }).click();
    const missing = panel(a).locator('[data-testid="live-control-missing"]');
    await expect.poll(() => missing.count(), { timeout: RENDER_DEADLINE_MS }).toBe(1);
    const text = await missing.innerText();
    expect(text).toMatch(/^Edges needs a ControlNet this model lacks: tiny-lcm has no canny ControlNet/);
    expect(text).toMatch(/npm run models:download -- /);
    expect(text).toMatch(/or choose None/);
    expect(await inFrame(a, 'live-state', other).getAttribute('class')).toMatch(/--error/);
    if (SCREENSHOTS) await a.screenshot({ path: join(SCREENSHOTS, 'controlnet-missing.png') });
    // back to None: the notice goes, the frame renders again
    const seq = await shownSeq(a, other);
    await panel(a).locator('[data-testid="live-control"] button', { hasText: 'None' }).click();
    await expect.poll(() => missing.count()).toBe(0);
    await expect.poll(() => shownSeq(a, other), { timeout: RENDER_DEADLINE_MS }).toBeGreaterThan(seq);
  });
});
