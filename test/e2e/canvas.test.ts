// Issue 2, acceptance 3: two people in one room see each other's strokes and cursors; the room
// survives a server restart; the page talks to no other host. Real server, real Chromium, real
// mouse events.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRoomId } from '../../lib/canvas/roomId';
import { ROOT, startServer, type TestServer } from '../helpers/server';
import { launchBrowser, openRoom, waitForEditor, waitInPage, type RoomPage } from './browser';

const ALICE = { id: 'e2e-alice', name: 'Alice', color: '#F2555A' };
const BOB = { id: 'e2e-bob', name: 'Bob', color: '#02B1CC' };

/** Draw a polyline with the draw tool, as a person would: press, move in small steps, release. */
async function drawStroke(page: Page, points: Array<[number, number]>) {
  const [x0, y0] = points[0]!;
  await page.mouse.move(x0, y0);
  await page.mouse.down();
  for (const [x, y] of points.slice(1)) await page.mouse.move(x, y, { steps: 4 });
  await page.mouse.up();
}

const drawShapeIds = (page: Page) =>
  page.evaluate(() =>
    window
      .editor!.getCurrentPageShapes()
      .filter((s) => s.type === 'draw')
      .map((s) => s.id)
      .sort(),
  );

const status = (page: Page) => page.getByTestId('connection-status').getAttribute('data-status');

describe('collaborative canvas', () => {
  let server: TestServer;
  let browser: Browser;
  const pages: RoomPage[] = [];

  beforeAll(async () => {
    server = await startServer({ web: true });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('syncs strokes and cursors between two people, keeps offline edits and survives a restart', async () => {
    const roomId = newRoomId();
    const A = await openRoom(browser, server.url, roomId, { participant: ALICE });
    const B = await openRoom(browser, server.url, roomId, { participant: BOB });
    pages.push(A, B);
    expect(await status(A.page)).toBe('connected');

    // ── a stroke drawn in A appears in B ──
    await A.page.keyboard.press('d');
    expect(await A.page.evaluate(() => window.editor!.getCurrentToolId())).toBe('draw');
    await drawStroke(A.page, [
      [380, 420], [380, 300], [470, 230], [560, 300], [560, 420], [380, 420],
    ]);
    const drawnInA = await drawShapeIds(A.page);
    expect(drawnInA).toHaveLength(1);
    await waitInPage(
      B.page,
      () => window.editor!.getCurrentPageShapes().some((s) => s.type === 'draw'),
      2_000,
      "A's stroke in B's store",
    );
    expect(await drawShapeIds(B.page)).toEqual(drawnInA);
    // The record arrived whole: same points as in A.
    const segments = (page: Page, id: string) =>
      page.evaluate((i) => JSON.stringify((window.editor!.getShape(i as any) as any).props.segments), id);
    expect(await segments(B.page, drawnInA[0]!)).toBe(await segments(A.page, drawnInA[0]!));

    // ── B sees A's cursor, with A's name ──
    await A.page.mouse.move(700, 330, { steps: 5 });
    const cursor = await waitInPage(
      B.page,
      () => {
        const p = window.editor!.store
          .allRecords()
          .find((r: any) => r.typeName === 'instance_presence' && r.userName === 'Alice') as any;
        return p && Math.abs(p.cursor.x - 700) < 2 && Math.abs(p.cursor.y - 330) < 2 ? p : null;
      },
      2_000,
      "A's cursor at (700, 330) in B's store",
    );
    expect(cursor.color).toBe(ALICE.color);
    expect(cursor.userId).toBe(`user:${ALICE.id}`);
    await expect
      .poll(() => B.page.locator('.tl-nametag', { hasText: 'Alice' }).isVisible(), { timeout: 2_000 })
      .toBe(true);

    // ── the participant list shows both, me first ──
    await B.page.getByTestId('people-button').click();
    await expect
      .poll(() => B.page.getByTestId('participants').locator('.lc-name').allInnerTexts(), { timeout: 2_000 })
      .toEqual(['Bob', 'Alice']);
    await expect(B.page.getByTestId('participants').locator('li').first().locator('.lc-you').count()).resolves.toBe(1);

    mkdirSync(join(ROOT, 'docs'), { recursive: true });
    await B.page.screenshot({ path: join(ROOT, 'docs', 'screenshot.png') });
    await B.page.getByTestId('people-button').click();

    // ── the server goes away: A keeps drawing offline ──
    const { port, dataDir } = server;
    await server.stop();
    await expect.poll(() => status(A.page), { timeout: 10_000 }).toBe('offline');
    await drawStroke(A.page, [
      [300, 550], [420, 560], [540, 540], [660, 560],
    ]);
    expect(await drawShapeIds(A.page)).toHaveLength(2);

    // ── back on the same data: A's offline stroke reaches the server, B reloads and sees both ──
    server = await startServer({ web: true, port, dataDir });
    await expect.poll(() => status(A.page), { timeout: 20_000, interval: 200 }).toBe('connected');
    const bothInA = await drawShapeIds(A.page);
    await B.page.reload();
    await waitForEditor(B.page);
    await waitInPage(
      B.page,
      () => window.editor!.getCurrentPageShapes().filter((s) => s.type === 'draw').length === 2,
      5_000,
      'both strokes in B after the restart',
    );
    expect(await drawShapeIds(B.page)).toEqual(bothInA);

    // ── nothing was requested from another host ──
    const origin = new URL(server.url).origin;
    for (const p of pages) {
      expect(p.requests.urls.length).toBeGreaterThan(10);
      expect(p.requests.foreign(origin)).toEqual([]);
      expect(p.requests.urls.some((u) => u.includes('/tldraw-assets/'))).toBe(true);
    }
  }, 120_000);
});
