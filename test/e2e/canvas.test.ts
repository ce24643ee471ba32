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
    // The stroke's last points travel in later updates than its creation, so wait (same 2 s
    // budget) until B holds exactly A's points.
    const inA = await segments(A.page, drawnInA[0]!);
    let inB = await segments(B.page, drawnInA[0]!);
    for (const deadline = Date.now() + 2_000; inB !== inA && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 50));
      inB = await segments(B.page, drawnInA[0]!);
    }
    expect(inB).toBe(inA);

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

    // The README's screenshot is refreshed only on request, so a test run leaves the tree clean.
    const shotDir = join(ROOT, process.env.UPDATE_SCREENSHOT === '1' ? 'docs' : 'test-results');
    mkdirSync(shotDir, { recursive: true });
    await B.page.screenshot({
      path: join(shotDir, process.env.UPDATE_SCREENSHOT === '1' ? 'screenshot.png' : 'canvas-room.png'),
    });
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

  it('creates and opens rooms from the landing page; a name change reaches the others', async () => {
    // Landing: "Create a room" opens a fresh, unguessable room.
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.url);
    await page.getByTestId('create-room').click();
    await page.waitForURL(/\/r\/[A-Za-z0-9_-]{16}$/);
    await waitForEditor(page);
    const roomUrl = page.url();

    // Pasting that link on the landing page opens the same room.
    await page.goto(server.url);
    await page.getByTestId('room-link').fill(`  ${roomUrl}  `);
    await page.getByRole('button', { name: 'Open' }).click();
    await page.waitForURL(roomUrl);
    await waitForEditor(page);

    // Something that is not a room: a clear message, no editor.
    await page.goto(`${server.url}/r/nope`);
    await expect(page.getByTestId('invalid-room').innerText()).resolves.toContain('This is not a room link');

    // Renaming myself in the room panel: the other side's list and my cursor label follow.
    const roomId = roomUrl.split('/r/')[1]!;
    const A = await openRoom(browser, server.url, roomId, { participant: ALICE });
    const B = await openRoom(browser, server.url, roomId, { participant: BOB });
    pages.push(A, B);
    await B.page.getByTestId('people-button').click();
    const name = B.page.getByTestId('participant-editor').getByRole('textbox');
    await name.fill('');
    await name.pressSequentially('Bobby D'); // 'd' would pick the draw tool if it leaked to tldraw
    expect(await B.page.evaluate(() => window.editor!.getCurrentToolId())).toBe('select');
    await B.page.mouse.move(640, 500, { steps: 3 });
    await A.page.getByTestId('people-button').click();
    await expect
      .poll(() => A.page.getByTestId('participants').locator('.lc-name').allInnerTexts(), { timeout: 2_000 })
      .toEqual(['Alice', 'Bobby D']);
    await waitInPage(
      A.page,
      () => window.editor!.store.allRecords().some((r: any) => r.typeName === 'instance_presence' && r.userName === 'Bobby D'),
      2_000,
      "Bob's new name on his cursor in A",
    );
    // …and it is remembered for the next visit (openRoom's init script would reset it on reload).
    const stored = await B.page.evaluate(() => JSON.parse(localStorage.getItem('livecanvas:participant')!));
    expect(stored).toEqual({ ...BOB, name: 'Bobby D' });
    await context.close();
  }, 60_000);
});
