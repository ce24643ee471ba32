// Issue 10, acceptance 3: the owner shares a view link; the viewer sees the owner's stroke and
// render live, its own mouse drawing changes nothing on either page and sends no update; the owner
// replaces the view link and the viewer's page says "access revoked". Two Chromium contexts (two
// people), real mouse and keyboard, the tiny LCM model on the server.
import type { Browser, BrowserContext, Page, WebSocket } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server';
import { launchBrowser, recordRequests, waitForEditor, waitInPage, type RecordedRequests } from './browser';

const RENDER_DEADLINE_MS = 30_000;
const VIEWPORT = { width: 1280, height: 800 };

let server: TestServer;
let browser: Browser;
let roomId = '';
let frameId = '';
let viewLink = '';

interface Person {
  context: BrowserContext;
  page: Page;
  requests: RecordedRequests;
  errors: string[];
  /** socket.io events the page sent, in order, with the first byte of a y:sync payload */
  sent: { event: string; syncType?: number }[];
}
let owner: Person;
let viewer: Person;

/** Records what a page sends over its Socket.IO WebSockets: each event's name, and for y:sync the
 * y-protocols message type of its binary payload (0 step 1, 1 step 2, 2 update). */
function recordSocketEvents(page: Page, sent: Person['sent']) {
  page.on('websocket', (ws: WebSocket) => {
    let awaitingBinary: { event: string; left: number } | null = null;
    ws.on('framesent', (f) => {
      if (typeof f.payload !== 'string') {
        if (awaitingBinary && awaitingBinary.left-- > 0) {
          if (awaitingBinary.event === 'y:sync') sent.push({ event: 'y:sync', syncType: f.payload[0] });
          if (awaitingBinary.left === 0) awaitingBinary = null;
        }
        return;
      }
      // engine.io message '4', socket.io EVENT '2' or BINARY_EVENT '5<attachments>-', ack id, args
      const m = /^4([25])(?:(\d+)-)?\d*\["([^"]+)"/.exec(f.payload);
      if (!m) return;
      const event = m[3]!;
      if (m[1] === '5') awaitingBinary = { event, left: Number(m[2]) };
      else sent.push({ event });
    });
  });
}

async function newPerson(participant: { id: string; name: string; color: string }, clipboard = false): Promise<Person> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  if (clipboard) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  await context.addInitScript((p) => {
    localStorage.setItem('livecanvas:participant', JSON.stringify(p));
    localStorage.setItem('livecanvas:name-asked', '1');
  }, participant);
  const requests = recordRequests(context);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  const sent: Person['sent'] = [];
  recordSocketEvents(page, sent);
  return { context, page, requests, errors, sent };
}

const shapesOfType = (page: Page, type: string) =>
  page.evaluate((t) => window.editor!.getCurrentPageShapes().filter((s) => s.type === t).length, type);
const shapeCount = (page: Page) => page.evaluate(() => window.editor!.getCurrentPageShapes().length);

async function drag(page: Page, from: [number, number], to: [number, number], steps = 20) {
  await page.mouse.move(...from);
  await page.mouse.down();
  for (let i = 1; i <= steps; i++) {
    await page.mouse.move(from[0] + ((to[0] - from[0]) * i) / steps, from[1] + ((to[1] - from[1]) * i) / steps + Math.sin(i) * 10);
  }
  await page.mouse.up();
}

describe('sharing a room with a view link', () => {
  beforeAll(async () => {
    server = await startServer({ web: true, model: 'tiny-lcm' });
    browser = await launchBrowser();
    owner = await newPerson({ id: 'owen-1', name: 'Owen', color: '#e03131' }, true);
    viewer = await newPerson({ id: 'vic-1', name: 'Vic', color: '#1971c2' });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('the landing page creates a room whose creator is its owner, with no token in the address', async () => {
    const page = owner.page;
    await page.goto(`${server.url}/`);
    await page.locator('[data-testid="create-room"]').click();
    await page.waitForURL(/\/r\/[A-Za-z0-9_-]{10,64}$/, { timeout: 15_000 });
    await waitForEditor(page);
    roomId = new URL(page.url()).pathname.split('/').pop()!;
    expect(new URL(page.url()).hash).toBe('');
    expect(await page.locator('[data-testid="room"]').getAttribute('data-role')).toBe('owner');
    expect(await page.locator('[data-testid="view-only"]').count()).toBe(0);
    // the owner token is kept for this tab only and never went into a request line
    const token = await page.evaluate((id) => sessionStorage.getItem(`livecanvas:link:${id}`), roomId);
    expect(token).toBeTruthy();
    expect(owner.requests.urls.filter((u) => u.includes(token!))).toEqual([]);
  });

  it('the owner copies the view link from the Share dialog', async () => {
    const page = owner.page;
    await page.locator('[data-testid="share-button"]').click();
    const dialog = page.locator('[data-testid="share-dialog"]');
    await dialog.waitFor();
    await dialog.locator('[data-testid="share-link-viewer-value"]').waitFor({ timeout: 10_000 });
    const shown = await dialog.locator('[data-testid="share-link-viewer-value"]').inputValue();
    expect(shown).toMatch(new RegExp(`^${server.url}/r/${roomId}#k=[\\w-]+\\.[\\w-]+\\.[\\w-]+$`));
    expect(await dialog.locator('[data-testid="share-link-editor-value"]').inputValue()).not.toBe(shown);

    await dialog.locator('[data-testid="share-link-viewer-copy"]').click();
    await expect.poll(() => dialog.locator('[data-testid="share-link-viewer-copy"]').textContent()).toBe('Copied');
    viewLink = await page.evaluate(() => navigator.clipboard.readText());
    expect(viewLink).toBe(shown);

    // Escape closes it; so does a click outside
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);
    await page.locator('[data-testid="share-button"]').click();
    await dialog.waitFor();
    await page.mouse.click(640, 700);
    await expect.poll(() => dialog.count()).toBe(0);
  });

  it("the viewer opens the view link: read-only, 'View only', shown as a viewer to the owner", async () => {
    const page = viewer.page;
    await page.goto(viewLink);
    await waitForEditor(page);
    expect(new URL(page.url()).hash).toBe(''); // the token left the address bar
    expect(await page.locator('[data-testid="room"]').getAttribute('data-role')).toBe('viewer');
    expect(await page.locator('[data-testid="view-only"]').textContent()).toMatch(/View only/);
    expect(await page.evaluate(() => window.editor!.getIsReadonly())).toBe(true);
    expect(await page.locator('[data-testid="live-add"]').count()).toBe(0);
    const token = new URL(viewLink).hash.slice('#k='.length);
    expect(viewer.requests.urls.filter((u) => u.includes(token))).toEqual([]);
    // the owner sees the viewer's cursor labelled as a viewer
    await page.mouse.move(300, 300);
    await page.mouse.move(320, 330, { steps: 5 });
    await waitInPage(
      owner.page,
      () =>
        window.editor!.store
          .allRecords()
          .some((r) => r.typeName === 'instance_presence' && (r as { userName?: string }).userName === 'Vic (viewer)'),
      10_000,
      "the viewer's presence, labelled as a viewer, in the owner's tab",
    );
  });

  it("the viewer sees the owner's stroke and its render live", async () => {
    const a = owner.page;
    await a.mouse.click(900, 600);
    await a.keyboard.press('i');
    await drag(a, [400, 200], [720, 520], 10);
    frameId = await a.evaluate(() => window.editor!.getCurrentPageShapes().find((s) => s.type === 'live-frame')?.id ?? '');
    expect(frameId).toMatch(/^shape:/);
    await a.keyboard.press('d');
    await drag(a, [450, 250], [660, 420], 30);
    expect(await shapesOfType(a, 'draw')).toBe(1);

    await waitInPage(viewer.page, () => window.editor!.getCurrentPageShapes().some((s) => s.type === 'draw'), 10_000, "the owner's stroke in the viewer's tab");
    await waitInPage(
      viewer.page,
      new Function(
        `const img = document.querySelector('[data-live-frame-id="${frameId}"] img[data-testid="live-render"]');
         return !!img && img.src.startsWith('blob:') && img.complete && img.naturalWidth > 0;`,
      ) as () => boolean,
      RENDER_DEADLINE_MS,
      "a render on the frame in the viewer's tab",
    );
    // nothing to pin or render from a view-only page
    expect(await viewer.page.locator(`[data-live-frame-id="${frameId}"] [data-testid="live-pin"]`).count()).toBe(0);
  });

  it("the viewer's own mouse drawing changes nothing on either page and sends no update", async () => {
    const v = viewer.page;
    const before = { owner: await shapeCount(owner.page), viewer: await shapeCount(v) };
    expect(before.viewer).toBe(before.owner);
    const sentBefore = viewer.sent.length;

    // the draw tool's shortcut, then strokes on the empty page and inside the frame
    await v.mouse.click(1100, 700);
    await v.keyboard.press('d');
    await drag(v, [150, 600], [350, 700]);
    await drag(v, [480, 300], [640, 460]);
    // the live frame tool and a rectangle, too
    await v.keyboard.press('i');
    await drag(v, [900, 150], [1100, 350]);
    await v.keyboard.press('r');
    await drag(v, [850, 450], [1000, 600]);
    // select the frame and try its settings: shown, disabled
    await v.keyboard.press('Escape');
    await v.keyboard.press('v');
    const header = await v.evaluate((id) => {
      const s = window.editor!.getShape(id as never)!;
      return window.editor!.pageToScreen({ x: s.x + 40, y: s.y - 10 });
    }, frameId);
    await v.mouse.click(header.x, header.y);
    const panel = v.locator(`[data-testid="live-panel"][data-frame-id="${frameId}"]`);
    await panel.waitFor({ timeout: 5000 });
    expect(await panel.getAttribute('data-readonly')).toBe('true');
    expect(await panel.locator('[data-testid="live-prompt"]').isDisabled()).toBe(true);
    await v.keyboard.press('Delete');
    await v.keyboard.press('Backspace');
    await v.waitForTimeout(1500); // anything sent would have arrived by now

    expect(await shapeCount(v)).toBe(before.viewer);
    expect(await shapeCount(owner.page)).toBe(before.owner);
    expect(await v.evaluate((id) => Boolean(window.editor!.getShape(id as never)), frameId)).toBe(true);
    const after = viewer.sent.slice(sentBefore);
    expect(after.filter((s) => s.event === 'y:sync')).toEqual([]);
    expect(after.map((s) => s.event)).not.toContain('frame:snapshot');
    // and over the whole visit: y:sync only ever carried sync step 1
    const syncs = viewer.sent.filter((s) => s.event === 'y:sync');
    expect(syncs.length).toBeGreaterThan(0);
    expect(syncs.every((s) => s.syncType === 0)).toBe(true);
    expect(viewer.sent.map((s) => s.event)).not.toContain('frame:snapshot');
    expect(viewer.sent.map((s) => s.event)).not.toContain('frame:pin');
  });

  it("the owner replaces the view link: the viewer's page says access revoked, and the old link stops working", async () => {
    const a = owner.page;
    await a.locator('[data-testid="share-button"]').click();
    const dialog = a.locator('[data-testid="share-dialog"]');
    await dialog.locator('[data-testid="share-link-viewer-value"]').waitFor({ timeout: 10_000 });
    await dialog.locator('[data-testid="share-link-viewer-replace"]').click();
    expect(await dialog.textContent()).toMatch(/loses access at once/);
    await dialog.locator('[data-testid="share-link-viewer-replace-confirm"]').click();
    await expect
      .poll(() => dialog.locator('[data-testid="share-link-viewer-value"]').inputValue(), { timeout: 10_000 })
      .not.toBe(viewLink);
    await a.keyboard.press('Escape');

    const denied = viewer.page.locator('[data-testid="room-denied"]');
    await denied.waitFor({ timeout: 5000 });
    expect(await denied.getAttribute('data-kind')).toBe('revoked');
    expect(await denied.textContent()).toMatch(/access revoked/i);
    // it stays that way: no reconnect brings the canvas back
    await viewer.page.waitForTimeout(2000);
    expect(await viewer.page.locator('[data-testid="room-denied"]').count()).toBe(1);
    expect(await viewer.page.evaluate(() => Boolean(window.editor))).toBe(false);

    // the old view link, opened afresh, is refused with a clear page
    const late = await newPerson({ id: 'lee-1', name: 'Lee', color: '#2f9e44' });
    try {
      await late.page.goto(viewLink);
      const page = late.page.locator('[data-testid="room-denied"]');
      await page.waitFor({ timeout: 10_000 });
      expect(await page.textContent()).toMatch(/This link was revoked or is not valid/);
      expect(await page.textContent()).toMatch(/ask the owner for a new link/i);
    } finally {
      await late.context.close();
    }
    // the owner is still in, with the canvas
    expect(await shapesOfType(a, 'draw')).toBe(1);
  });

  it('an editor learns that only the owner shares; the owner deletes the room and it is gone for everyone', async () => {
    const a = owner.page;
    await a.locator('[data-testid="share-button"]').click();
    const dialog = a.locator('[data-testid="share-dialog"]');
    const editLink = await dialog.locator('[data-testid="share-link-editor-value"]').inputValue();
    const ed = await newPerson({ id: 'eve-1', name: 'Eve', color: '#11b3a3' });
    try {
      await ed.page.goto(editLink);
      await waitForEditor(ed.page);
      expect(await ed.page.locator('[data-testid="room"]').getAttribute('data-role')).toBe('editor');
      expect(await ed.page.evaluate(() => window.editor!.getIsReadonly())).toBe(false);
      await ed.page.locator('[data-testid="share-button"]').click();
      expect(await ed.page.locator('[data-testid="share-not-owner"]').textContent()).toMatch(/Only the owner of this room can share it/);
      expect(await ed.page.locator('[data-testid="share-dialog"] input').count()).toBe(0);
      // the HTTP session was opened with the token in a header: pinned images and uploads can be read
      expect(ed.requests.urls).toContain(`${server.url}/api/rooms/${roomId}/session`);

      await dialog.locator('[data-testid="share-delete"]').click();
      expect(await dialog.textContent()).toMatch(/gone for good/);
      await dialog.locator('[data-testid="share-delete-confirm"]').click();
      const ownerDenied = a.locator('[data-testid="room-denied"]');
      await ownerDenied.waitFor({ timeout: 5000 });
      expect(await ownerDenied.getAttribute('data-kind')).toBe('deleted');
      expect(await ownerDenied.textContent()).toMatch(/You deleted this room/);
      const edDenied = ed.page.locator('[data-testid="room-denied"]');
      await edDenied.waitFor({ timeout: 5000 });
      expect(await edDenied.textContent()).toMatch(/Access revoked: .*deleted/i);

      // the link pasted again into the same tab (only the fragment differs: no page load by itself)
      await ed.page.goto(editLink);
      await expect.poll(() => edDenied.textContent(), { timeout: 10_000 }).toMatch(/This room does not exist/);
    } finally {
      await ed.context.close();
    }
  });

  it('a room that does not exist says so', async () => {
    const p = await newPerson({ id: 'nia-1', name: 'Nia', color: '#7b66dc' });
    try {
      await p.page.goto(`${server.url}/r/NoSuchRoom0123456789`);
      const page = p.page.locator('[data-testid="room-denied"]');
      await page.waitFor({ timeout: 10_000 });
      expect(await page.textContent()).toMatch(/This room does not exist/);
    } finally {
      await p.context.close();
    }
    expect([...owner.errors, ...viewer.errors]).toEqual([]);
  });
});
