// Shared harness for browser tests: Debian chromium driven by playwright-core (never a downloaded
// browser), helpers to open room pages and reach the tldraw editor the page exposes as
// `window.editor`, and a recorder of every request a page makes.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page, type Locator } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `chromium not found at ${CHROMIUM_PATH}: install it with "apt-get update && apt-get install -y chromium" (or set CHROMIUM_PATH)`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

export interface RecordedRequests {
  urls: string[];
  /** requests whose origin differs from `origin` */
  foreign(origin: string): string[];
}

/** Record every request made in a context (pages, workers, fetches, fonts, icons…) and every
 * WebSocket its pages open (those are not 'request' events). */
export function recordRequests(context: BrowserContext): RecordedRequests {
  const urls: string[] = [];
  context.on('request', (r) => urls.push(r.url()));
  const watchPage = (page: Page) => page.on('websocket', (ws) => urls.push(ws.url().replace(/^ws/, 'http')));
  context.pages().forEach(watchPage);
  context.on('page', watchPage);
  return {
    urls,
    foreign: (origin) =>
      urls.filter((u) => {
        if (u.startsWith('data:') || u.startsWith('blob:') || u === 'about:blank') return false;
        return new URL(u).origin !== origin;
      }),
  };
}

export interface OpenRoomOptions {
  /** participant stored in localStorage before the page loads; it counts as already asked for a
   * name (no name prompt) unless `askName` */
  participant?: { id: string; name: string; color: string };
  askName?: boolean;
  viewport?: { width: number; height: number };
}

export interface RoomPage {
  context: BrowserContext;
  page: Page;
  requests: RecordedRequests;
  /** console errors and uncaught page errors, for diagnostics */
  errors: string[];
}

/** A fresh browser context (its own localStorage: a different person) on a room page, with the
 * editor mounted and the first sync done. `room` is a room id or a room link (`/r/<id>#k=…`). */
export async function openRoom(
  browser: Browser,
  baseUrl: string,
  room: string,
  opts: OpenRoomOptions = {},
): Promise<RoomPage> {
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1280, height: 800 } });
  const requests = recordRequests(context);
  if (opts.participant) {
    await context.addInitScript(
      ({ p, asked }) => {
        localStorage.setItem('livecanvas:participant', JSON.stringify(p));
        if (asked) localStorage.setItem('livecanvas:name-asked', '1');
      },
      { p: opts.participant, asked: !opts.askName },
    );
  }
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  await page.goto(room.startsWith('/r/') ? `${baseUrl}${room}` : `${baseUrl}/r/${room}`);
  await waitForEditor(page);
  return { context, page, requests, errors };
}

/** Wait until the room page exposes its editor (mounted after the first sync). */
export async function waitForEditor(page: Page, timeoutMs = 30_000): Promise<void> {
  await page.waitForFunction(() => Boolean((window as any).editor), null, { timeout: timeoutMs });
}

/** Poll a function in the page until it returns a truthy value; returns that value. */
export async function waitInPage<T>(
  page: Page,
  fn: () => T,
  timeoutMs: number,
  what: string,
): Promise<T> {
  try {
    const handle = await page.waitForFunction(fn, null, { timeout: timeoutMs, polling: 50 });
    return (await handle.jsonValue()) as T;
  } catch (e) {
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** A new shared room (`POST /api/rooms`): its id and owner, edit and view links (paths). */
export async function createSharedRoom(baseUrl: string): Promise<{ roomId: string; links: { owner: string; editor: string; viewer: string } }> {
  const res = await fetch(`${baseUrl}/api/rooms`, { method: 'POST' });
  if (res.status !== 201) throw new Error(`POST /api/rooms answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { roomId: string; links: { owner: string; editor: string; viewer: string } };
}

/** Opens or closes the live frame panel's Advanced section in `scope` (a page or the panel) and
 * waits until its content is there or gone. Clicking the summary blindly would close a section left
 * open (its state is kept in localStorage), and reading right after the click races the render. */
export async function setAdvanced(scope: Page | Locator, open: boolean): Promise<void> {
  const details = scope.locator('[data-testid="live-advanced"]');
  if (((await details.getAttribute('open')) !== null) !== open) await details.locator('summary').click();
  await scope.locator('[data-testid="live-advanced-body"]').waitFor({ state: open ? 'visible' : 'detached' });
}
