// Cluster mode (issue 11), acceptance: two web nodes sharing PostgreSQL and Redis; page A on node A
// and page B on node B open the same room with the same editor link; a stroke drawn with the mouse
// in A appears in B, whole, and each person sees the other (cursor, name, participant list). Real
// redis-server, PostgreSQL, server processes and Chromium; real mouse events.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../helpers/cluster';
import { createSharedRoom, launchBrowser, openRoom, waitInPage, type RoomPage } from './browser';

const ALICE = { id: 'e2e-cluster-alice', name: 'Alice', color: '#F2555A' };
const BOB = { id: 'e2e-cluster-bob', name: 'Bob', color: '#02B1CC' };

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

/** A draw shape's points as JSON (its segments), or null when the page does not hold it. */
const segments = (page: Page, id: string) =>
  page.evaluate((i) => {
    const shape = window.editor!.getShape(i as any) as any;
    return shape ? JSON.stringify(shape.props.segments) : null;
  }, id);

const status = (page: Page) => page.getByTestId('connection-status').getAttribute('data-status');

describe('two web nodes, two browsers, one room', () => {
  let cluster: TestCluster;
  let browser: Browser;
  const pages: RoomPage[] = [];

  /** What to look at when something does not cross: both nodes' logs and the pages' errors. */
  const diagnostics = () =>
    [
      ...cluster.nodes.map((n, i) => `── node ${i + 1} (${n.url}) output ──\n${n.output().slice(-4_000)}`),
      ...pages.map((p, i) => `── page ${i + 1} errors ──\n${p.errors.join('\n')}`),
    ].join('\n');

  beforeAll(async () => {
    [cluster, browser] = await Promise.all([startCluster(2, { web: true }), launchBrowser()]);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  }, 60_000);

  it('a stroke drawn with the mouse on node A appears on node B; presence crosses both ways', async () => {
    const [nodeA, nodeB] = cluster.nodes as [TestCluster['nodes'][0], TestCluster['nodes'][0]];
    expect(nodeA.url).not.toBe(nodeB.url);
    const { links } = await createSharedRoom(nodeA.url);
    const A = await openRoom(browser, nodeA.url, links.editor, { participant: ALICE });
    pages.push(A);
    const B = await openRoom(browser, nodeB.url, links.editor, { participant: BOB });
    pages.push(B);
    // Each page talks to its own node only.
    expect(A.page.url().startsWith(`${nodeA.url}/r/`)).toBe(true);
    expect(B.page.url().startsWith(`${nodeB.url}/r/`)).toBe(true);
    expect(await status(A.page)).toBe('connected');
    expect(await status(B.page)).toBe('connected');
    for (const [p, origin] of [[A, nodeA.url], [B, nodeB.url]] as const) {
      expect(p.requests.urls.some((u) => u.startsWith(`${origin}/socket.io/`))).toBe(true);
      expect(p.requests.foreign(origin)).toEqual([]);
    }

    try {
      // ── a stroke drawn in A (node A) appears in B (node B), with the same id and points ──
      await A.page.keyboard.press('d');
      expect(await A.page.evaluate(() => window.editor!.getCurrentToolId())).toBe('draw');
      await drawStroke(A.page, [
        [380, 420], [380, 300], [470, 230], [560, 300], [560, 420], [380, 420],
      ]);
      const drawnInA = await drawShapeIds(A.page);
      expect(drawnInA).toHaveLength(1);
      const startedWaiting = Date.now();
      await waitInPage(
        B.page,
        () => window.editor!.getCurrentPageShapes().some((s) => s.type === 'draw'),
        5_000,
        "A's stroke (drawn through node A) in B's store (node B)",
      );
      expect(await drawShapeIds(B.page)).toEqual(drawnInA);
      // The stroke's last points travel in later updates than its creation: wait until B holds
      // exactly A's points.
      const inA = await segments(A.page, drawnInA[0]!);
      expect(inA).toBeTruthy();
      await expect.poll(() => segments(B.page, drawnInA[0]!), { timeout: 5_000, interval: 50 }).toBe(inA);
      console.log(`[cluster e2e] stroke whole in B ${Date.now() - startedWaiting} ms after the mouse-up in A`);

      // ── B sees A's cursor, with A's name and colour ──
      await A.page.mouse.move(700, 330, { steps: 5 });
      const cursor = await waitInPage(
        B.page,
        () => {
          const p = window.editor!.store
            .allRecords()
            .find((r: any) => r.typeName === 'instance_presence' && r.userName === 'Alice') as any;
          return p && Math.abs(p.cursor.x - 700) < 2 && Math.abs(p.cursor.y - 330) < 2 ? p : null;
        },
        5_000,
        "A's cursor at (700, 330) in B's store",
      );
      expect(cursor.color).toBe(ALICE.color);
      expect(cursor.userId).toBe(`user:${ALICE.id}`);
      await expect
        .poll(() => B.page.locator('.tl-nametag', { hasText: 'Alice' }).isVisible(), { timeout: 5_000 })
        .toBe(true);

      // ── and the other way: A sees B's cursor ──
      await B.page.mouse.move(300, 500, { steps: 5 });
      await waitInPage(
        A.page,
        () =>
          window.editor!.store
            .allRecords()
            .some(
              (r: any) =>
                r.typeName === 'instance_presence' &&
                r.userName === 'Bob' &&
                Math.abs(r.cursor.x - 300) < 2 &&
                Math.abs(r.cursor.y - 500) < 2,
            ),
        5_000,
        "B's cursor at (300, 500) in A's store",
      );

      // ── the participant lists show both, me first, on both nodes ──
      for (const [p, me, other] of [[B, 'Bob', 'Alice'], [A, 'Alice', 'Bob']] as const) {
        await p.page.getByTestId('people-button').click();
        await expect
          .poll(() => p.page.getByTestId('participants').locator('.lc-name').allInnerTexts(), { timeout: 5_000 })
          .toEqual([me, other]);
        expect(await p.page.getByTestId('participants').locator('li').first().locator('.lc-you').count()).toBe(1);
        await p.page.getByTestId('people-button').click();
      }

      // ── a stroke drawn in B reaches A too ──
      await B.page.keyboard.press('d');
      await drawStroke(B.page, [
        [700, 600], [760, 640], [820, 600],
      ]);
      const bothInB = await drawShapeIds(B.page);
      expect(bothInB).toHaveLength(2);
      const fromB = bothInB.find((id) => id !== drawnInA[0])!;
      await waitInPage(
        A.page,
        () => window.editor!.getCurrentPageShapes().filter((s) => s.type === 'draw').length === 2,
        5_000,
        "B's stroke (drawn through node B) in A's store (node A)",
      );
      expect(await drawShapeIds(A.page)).toEqual(bothInB);
      const fromBInB = await segments(B.page, fromB);
      await expect.poll(() => segments(A.page, fromB), { timeout: 5_000, interval: 50 }).toBe(fromBInB);
    } catch (e) {
      console.error(diagnostics());
      throw e;
    }

    // No page error or failed console call on either side.
    expect(A.errors).toEqual([]);
    expect(B.errors).toEqual([]);
  }, 120_000);
});
