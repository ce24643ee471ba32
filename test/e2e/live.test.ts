// Issue 3, acceptance 2: two people in one room, a live frame, the tiny LCM model on the server.
// Everything goes through real chromium pages with real mouse and keyboard input.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkFetch } from '../helpers/roomHttp';
import { startServer, type TestServer } from '../helpers/server';
import { createSharedRoom, launchBrowser, openRoom, setAdvanced, waitInPage, type RoomPage } from './browser';

const OUTPUT_SIZE = 256; // the live frame's default outputSize
const RENDER_DEADLINE_MS = 30_000;

let server: TestServer;
let browser: Browser;
let A: RoomPage;
let B: RoomPage;
let frameId = '';
/** the room's edit link (`/r/<roomId>#k=…`): every page opens it */
let editLink = '';
/** socket.io events each page's WebSocket sent, by name */
const sentEvents = new Map<Page, string[]>();

function recordSentEvents(page: Page) {
  const names: string[] = [];
  sentEvents.set(page, names);
  page.on('websocket', (ws) =>
    ws.on('framesent', (f) => {
      // engine.io message '4', socket.io EVENT '2' or BINARY_EVENT '5<attachments>-', ack id, args
      const m = typeof f.payload === 'string' ? /^4[25](?:\d+-)?\d*\["([^"]+)"/.exec(f.payload) : null;
      if (m) names.push(m[1]);
    }),
  );
}

async function waitForBlobRender(page: Page, id: string, what: string) {
  // read in the same poll that saw it loaded: a newer render may replace it right after
  return waitInPage(
    page,
    new Function(
      `const img = document.querySelector('[data-live-frame-id="${id}"] img[data-testid="live-render"]');
       return !!img && img.src.startsWith('blob:') && img.complete && img.naturalWidth > 0
         && { src: img.src, naturalWidth: img.naturalWidth, complete: img.complete };`,
    ) as () => { src: string; naturalWidth: number; complete: boolean },
    RENDER_DEADLINE_MS,
    what,
  );
}

/** Screen point of a page point in this tab (both tabs start with the same camera). */
async function toScreen(page: Page, x: number, y: number) {
  return page.evaluate(([px, py]) => window.editor!.pageToScreen({ x: px, y: py }), [x, y] as const);
}

describe('live frame across two browsers', () => {
  beforeAll(async () => {
    server = await startServer({ web: true, model: 'tiny-lcm' });
    browser = await launchBrowser();
    editLink = (await createSharedRoom(server.url)).links.editor;
    A = await openRoom(browser, server.url, editLink, { participant: { id: 'ann-1', name: 'Ann', color: '#e03131' } });
    B = await openRoom(browser, server.url, editLink, { participant: { id: 'bob-1', name: 'Bob', color: '#1971c2' } });
    // only now: the join handshake is not what we are counting
    recordSentEvents(A.page);
    recordSentEvents(B.page);
    await A.page.reload();
    await B.page.reload();
    await A.page.waitForFunction(() => Boolean(window.editor));
    await B.page.waitForFunction(() => Boolean(window.editor));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('drawing in a live frame in A shows its render on that frame in A and in B', async () => {
    const a = A.page;
    // create the frame with the tool: shortcut, then drag out 320×320 on the canvas
    await a.mouse.click(900, 600);
    await a.keyboard.press('i');
    expect(await a.evaluate(() => window.editor!.getCurrentToolId())).toBe('live-frame');
    await a.mouse.move(400, 200);
    await a.mouse.down();
    await a.mouse.move(560, 360, { steps: 5 });
    await a.mouse.move(720, 520, { steps: 5 });
    await a.mouse.up();
    frameId = await a.evaluate(
      () => window.editor!.getCurrentPageShapes().find((s) => s.type === 'live-frame')?.id ?? '',
    );
    expect(frameId).toMatch(/^shape:/);

    // draw a stroke inside it with the draw tool
    await a.keyboard.press('d');
    await a.mouse.move(450, 250);
    await a.mouse.down();
    for (let i = 0; i <= 30; i++) await a.mouse.move(450 + i * 7, 250 + Math.sin(i / 3) * 60 + i * 5);
    await a.mouse.up();
    const strokeParent = await a.evaluate(
      () => window.editor!.getCurrentPageShapes().find((s) => s.type === 'draw')?.parentId,
    );
    expect(strokeParent).toBe(frameId); // drawn into the frame, not onto the page

    const inA = await waitForBlobRender(a, frameId, 'a render on the frame in A');
    const inB = await waitForBlobRender(B.page, frameId, 'a render on the frame in B');
    expect(inA!.naturalWidth).toBe(OUTPUT_SIZE);
    expect(inB!.naturalWidth).toBe(OUTPUT_SIZE);

    // B only watched: it sent no snapshot; A did
    expect(sentEvents.get(A.page)).toContain('frame:snapshot');
    expect(sentEvents.get(B.page)).not.toContain('frame:snapshot');
  });

  it("changing the prompt in A shows in B's settings panel", async () => {
    const a = A.page;
    const b = B.page;
    // select the frame by its header in both tabs (select tool, real clicks)
    const frame = await a.evaluate((id) => window.editor!.getShape(id as any)!, frameId);
    const headerPoint = await toScreen(a, frame.x + 40, frame.y - 10);
    for (const p of [a, b]) {
      await p.keyboard.press('Escape');
      await p.keyboard.press('v');
      await p.mouse.click(headerPoint.x, headerPoint.y);
      await p.waitForSelector(`[data-testid="live-panel"][data-frame-id="${frameId}"]`, { timeout: 5000 });
    }
    // every size the engine accepts is offered (in the panel's Advanced section); the warmed-up one
    // says it is ready, the others how they compare on this CPU, with the multiplier as details
    await setAdvanced(a, true);
    const sizes = await a.locator('[data-testid="live-size"] option').allTextContents();
    expect(sizes).toHaveLength(15);
    expect(sizes[0]).toBe('128² · faster');
    expect(sizes).toContain('256² · ready');
    expect(sizes.at(-1)).toBe('1024² · very slow');
    expect(await a.locator('[data-testid="live-size"] option').last().getAttribute('title')).toMatch(/^about 16× the time of 256²/);
    await setAdvanced(a, false);

    const prompt = 'a castle on a hill, watercolor';
    await a.locator('[data-testid="live-prompt"]').click();
    await a.keyboard.type(prompt, { delay: 5 });
    await waitInPage(
      b,
      new Function(
        `return document.querySelector('[data-testid="live-prompt"]')?.value === ${JSON.stringify(prompt)};`,
      ) as () => boolean,
      10_000,
      "A's prompt in B's panel",
    );
    // and on the frame's header in B
    await expect
      .poll(() => b.locator(`[data-live-frame-id="${frameId}"] .lc-live-frame__prompt`).textContent(), { timeout: 5000 })
      .toBe(prompt);
  });

  it("pinning in A puts the render on B's canvas as an image whose asset is a JPEG", async () => {
    const a = A.page;
    const seedBefore = await a.evaluate((id) => (window.editor!.getShape(id as any)!.props as any).seed, frameId);
    await a.locator(`[data-live-frame-id="${frameId}"] [data-testid="live-pin"]`).click();

    const pinned = await waitInPage(
      B.page,
      () => {
        const ed = window.editor!;
        const img = ed.getCurrentPageShapes().find((s) => s.type === 'image') as any;
        if (!img?.props.assetId) return null;
        const asset = ed.getAsset(img.props.assetId) as any;
        return asset?.props.src ? { src: asset.props.src as string, w: asset.props.w, h: asset.props.h, mime: asset.props.mimeType } : null;
      },
      15_000,
      "the pinned image on B's canvas",
    );
    expect(pinned!.w).toBe(OUTPUT_SIZE);
    expect(pinned!.mime).toBe('image/jpeg');
    const res = await linkFetch(new URL(pinned!.src, server.url).href, editLink);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect([bytes[0], bytes[1], bytes[2]]).toEqual([0xff, 0xd8, 0xff]);

    // the frame got a new seed, and B sees it
    await expect
      .poll(() => B.page.evaluate((id) => (window.editor!.getShape(id as any)!.props as any).seed, frameId), { timeout: 5000 })
      .not.toBe(seedBefore);
  });

  it('the lens view covers the frame with the render in the other tab too', async () => {
    await A.page.locator('[data-testid="live-panel"] button', { hasText: 'Lens' }).click();
    await waitInPage(
      B.page,
      new Function(
        `const img = document.querySelector('img[data-testid="live-lens"][data-live-frame-id="${frameId}"]');
         return !!img && img.src.startsWith('blob:') && img.naturalWidth > 0;`,
      ) as () => boolean,
      10_000,
      'the lens render in B',
    );
    // the render sits above the stroke: the topmost element at the frame's centre is the lens
    const center = await toScreen(B.page, ...(await B.page.evaluate((id) => {
      const s = window.editor!.getShape(id as any)! as any;
      return [s.x + s.props.w / 2, s.y + s.props.h / 2] as [number, number];
    }, frameId)));
    const lensOnTop = await B.page.evaluate(({ x, y }) => {
      const lens = document.querySelector('img[data-testid="live-lens"]') as HTMLElement;
      lens.style.pointerEvents = 'auto'; // elementFromPoint skips pointer-events:none
      const top = document.elementFromPoint(x, y);
      lens.style.pointerEvents = 'none';
      return top === lens;
    }, center);
    expect(lensOnTop).toBe(true);
  });

  it('someone opening the room later sees the latest render at once', async () => {
    const C = await openRoom(browser, server.url, editLink, {
      participant: { id: 'cat-1', name: 'Cat', color: '#2f9e44' },
    });
    try {
      // the frame is in lens view now; nothing is drawn, so this render can only be the stored one
      const width = await waitInPage(
        C.page,
        new Function(
          `const img = document.querySelector('img[data-testid="live-lens"][data-live-frame-id="${frameId}"]');
           return img && img.src.startsWith('blob:') && img.naturalWidth;`,
        ) as () => number,
        10_000,
        'the latest render in a tab opened later',
      );
      expect(width).toBe(OUTPUT_SIZE);

      // not only the latest: every render the server keeps, to step back through
      const c = C.page;
      const listUrl = `${server.url}/api/renders/${roomIdOf(A.page)}/${encodeURIComponent(frameId)}`;
      let kept: number[] = [];
      await expect
        .poll(
          async () => {
            kept = ((await (await linkFetch(listUrl, editLink)).json()) as { renders: { seq: number }[] }).renders.map((r) => r.seq);
            const shown = await c.locator(`[data-live-frame-id="${frameId}"] [data-testid="live-history"]`).textContent();
            return shown === `${kept.length}/${kept.length}`;
          },
          { timeout: 10_000 },
        )
        .toBe(true);
      expect(kept.length).toBeGreaterThanOrEqual(2);
      await c.locator(`[data-live-frame-id="${frameId}"] button[aria-label="Older render"]`).click();
      await expect
        .poll(() => c.locator(`img[data-testid="live-lens"][data-live-frame-id="${frameId}"]`).getAttribute('data-seq'), {
          timeout: 5000,
        })
        .toBe(String(kept[kept.length - 2]));

      // the HUD says what loading the engine took
      expect(await c.locator(`[data-live-frame-id="${frameId}"] [data-testid="live-engine"]`).textContent()).toMatch(
        /loaded in \d/,
      );
      expect(C.errors).toEqual([]);
    } finally {
      await C.context.close();
    }
    expect([...A.errors, ...B.errors]).toEqual([]);
  });

  it("the side view shows the render beside the frame in B, even when only the render is on screen", async () => {
    await A.page.locator('[data-testid="live-panel"] button', { hasText: 'Side' }).click();
    const b = B.page;
    const sideImg = `[data-live-frame-id="${frameId}"] img.lc-live-frame__render--side`;
    await waitInPage(
      b,
      new Function(
        `const img = document.querySelector('${sideImg}');
         return !!img && img.src.startsWith('blob:') && img.complete && img.naturalWidth > 0;`,
      ) as () => boolean,
      10_000,
      'the side render in B',
    );
    const frameBox = await b.locator(`[data-live-frame-id="${frameId}"]`).boundingBox();
    const imgBox = await b.locator(sideImg).boundingBox();
    expect(imgBox!.x).toBeGreaterThanOrEqual(frameBox!.x + frameBox!.width);
    expect(Math.round(imgBox!.width)).toBe(Math.round(frameBox!.width));

    // Pan B so that the frame itself is just off screen to the left and only its render shows:
    // a culled frame would take its render (and HUD) with it.
    await b.evaluate((id) => {
      const ed = window.editor!;
      ed.selectNone(); // tldraw never culls selected shapes
      const bounds = ed.getShapePageBounds(id as any)!;
      const cam = ed.getCamera();
      ed.setCamera({ x: -10 - bounds.maxX, y: cam.y, z: 1 });
    }, frameId);
    const visible = await waitInPage(
      b,
      new Function(
        `const img = document.querySelector('${sideImg}');
         if (!img || !img.checkVisibility()) return null;
         const r = img.getBoundingClientRect();
         return r.width > 0 && r.right > 0 && r.left < innerWidth ? { left: r.left, width: r.width } : null;`,
      ) as () => { left: number; width: number } | null,
      5000,
      'the side render on screen while its frame is off screen',
    );
    expect(visible!.width).toBeGreaterThan(100);
    expect(await b.evaluate((id) => window.editor!.getViewportPageBounds().collides(window.editor!.getShapePageBounds(id as any)!), frameId)).toBe(false);
  });

  it("the HUD in B shows the server's frame:status note while the frame names a model the server does not run", async () => {
    const setModel = (model: string) =>
      A.page.evaluate(
        ([id, m]) => void window.editor!.updateShape({ id: id as any, type: 'live-frame', props: { model: m } as any }),
        [frameId, model] as const,
      );
    const notice = B.page.locator(`[data-live-frame-id="${frameId}"] [data-testid="live-notice"]`);
    await setModel('sd-turbo');
    await expect.poll(() => notice.textContent(), { timeout: 15_000 }).toMatch(/sd-turbo/);
    await setModel('');
    await expect.poll(() => notice.count(), { timeout: 15_000 }).toBe(0);
  });

  it('a frame drawn in while the server is down is rendered once the room is back', async () => {
    const a = A.page;
    const seqBefore = Number(await B.page.locator(`[data-live-frame-id="${frameId}"] img[data-testid="live-render"]`).getAttribute('data-seq'));
    const { port, dataDir } = server;
    await server.stop();
    await waitInPage(
      a,
      new Function(
        `return document.querySelector('[data-live-frame-id="${frameId}"] [data-testid="live-state"]')?.textContent?.startsWith('offline');`,
      ) as () => boolean,
      15_000,
      'A noticing that it is offline',
    );

    // a new stroke in the frame while offline (where the frame is now: pins and the side view may
    // have moved A's camera to keep them clear of the panels)
    const frame = await a.evaluate((id) => {
      const ed = window.editor!;
      ed.selectNone();
      const b = ed.getShapePageBounds(id as any)!;
      return { ...ed.pageToScreen({ x: b.minX, y: b.minY }), z: ed.getZoomLevel() };
    }, frameId);
    await a.keyboard.press('Escape');
    await a.evaluate(() => void window.editor!.setCurrentTool('draw'));
    const at = (dx: number, dy: number) => [frame.x + dx * frame.z, frame.y + dy * frame.z] as const;
    await a.mouse.move(...at(60, 240));
    await a.mouse.down();
    for (let i = 0; i <= 20; i++) await a.mouse.move(...at(60 + i * 10, 240 - i * 3));
    await a.mouse.up();
    expect(await a.evaluate((id) => window.editor!.getSortedChildIdsForParent(id as any).length, frameId)).toBe(2);

    server = await startServer({ web: true, model: 'tiny-lcm', port, dataDir });
    // nothing is drawn after the reconnect: this render can only come from the snapshot the
    // client kept while offline and sent once it had joined the room again
    for (const p of [a, B.page]) {
      const seq = await waitInPage(
        p,
        new Function(
          `const img = document.querySelector('[data-live-frame-id="${frameId}"] img[data-testid="live-render"]');
           const seq = Number(img?.getAttribute('data-seq'));
           return seq > ${seqBefore} && img.complete && img.naturalWidth > 0 ? seq : 0;`,
        ) as () => number,
        RENDER_DEADLINE_MS + 30_000,
        'a render of the offline stroke after the reconnect',
      );
      expect(seq).toBeGreaterThan(seqBefore);
    }
  });
});

function roomIdOf(page: Page): string {
  return new URL(page.url()).pathname.split('/').pop()!;
}
