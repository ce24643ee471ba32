// Issue 14, items 2 and 3, in real chromium pages:
// - someone who opens a shared link is asked once for the name others see (prefilled with the
//   random one, skippable), and never again in that browser; the landing page shows its name
//   field before "Create a room" and does not ask again in the room;
// - the Share button is visible at the top right; the people pop-up closes on Escape and on a
//   click outside.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server';
import { createSharedRoom, launchBrowser, openRoom, waitForEditor, type RoomPage } from './browser';

let server: TestServer;
let browser: Browser;
let editLink = '';
const opened: RoomPage[] = [];

const stored = (page: Page) =>
  page.evaluate(() => ({
    participant: JSON.parse(localStorage.getItem('livecanvas:participant') ?? 'null'),
    asked: localStorage.getItem('livecanvas:name-asked'),
  }));

describe('joining and sharing (issue 14: items 2 and 3)', () => {
  beforeAll(async () => {
    server = await startServer({ web: true, model: '' });
    browser = await launchBrowser();
    editLink = (await createSharedRoom(server.url)).links.editor;
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('asks someone who follows a link for a name once, prefilled; the answer is kept', async () => {
    const dee = await openRoom(browser, server.url, editLink, {
      participant: { id: 'dee-1', name: 'Quiet Otter', color: '#11B3A3' },
      askName: true,
    });
    opened.push(dee);
    const p = dee.page;
    const prompt = p.getByTestId('name-prompt');
    await prompt.waitFor();
    const input = p.getByTestId('name-prompt-input');
    expect(await input.inputValue()).toBe('Quiet Otter');
    await input.fill('');
    await input.pressSequentially('Dee'); // 'd' would pick the draw tool if it leaked to tldraw
    await input.press('Enter');
    await expect.poll(() => prompt.count()).toBe(0);
    expect(await p.evaluate(() => window.editor!.getCurrentToolId())).toBe('select');
    expect(await stored(p)).toEqual({ participant: { id: 'dee-1', name: 'Dee', color: '#11B3A3' }, asked: '1' });
    await p.getByTestId('people-button').click();
    await expect.poll(() => p.getByTestId('participants').locator('.lc-name').allInnerTexts()).toContain('Dee');

    // the next visit (same browser profile) does not ask again
    await p.goto(`${server.url}${editLink}`);
    await waitForEditor(p);
    await p.waitForTimeout(500);
    expect(await prompt.count()).toBe(0);
  });

  it('the name question can be skipped (Skip or Escape), keeping the random name', async () => {
    for (const how of ['skip', 'escape'] as const) {
      const eve = await openRoom(browser, server.url, editLink, {
        participant: { id: `eve-${how}`, name: 'Brave Heron', color: '#F04F88' },
        askName: true,
      });
      opened.push(eve);
      const prompt = eve.page.getByTestId('name-prompt');
      await prompt.waitFor();
      if (how === 'skip') await eve.page.getByTestId('name-prompt-skip').click();
      else await eve.page.keyboard.press('Escape');
      await expect.poll(() => prompt.count()).toBe(0);
      expect(await stored(eve.page)).toEqual({ participant: { id: `eve-${how}`, name: 'Brave Heron', color: '#F04F88' }, asked: '1' });
    }
  });

  it('the landing page shows the name field before "Create a room", and the room then asks nothing', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await context.newPage();
      await page.goto(server.url);
      const name = page.getByTestId('participant-editor');
      const create = page.getByTestId('create-room');
      expect((await name.boundingBox())!.y).toBeLessThan((await create.boundingBox())!.y);
      await create.click();
      await page.waitForURL(/\/r\//);
      await waitForEditor(page);
      await page.waitForTimeout(500);
      expect(await page.getByTestId('name-prompt').count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it('the Share button is visible; the people pop-up closes on Escape and on a click outside', async () => {
    const fay = await openRoom(browser, server.url, editLink, { participant: { id: 'fay-1', name: 'Fay', color: '#7B66DC' } });
    opened.push(fay);
    const p = fay.page;
    const share = p.getByTestId('share-button');
    expect(await share.isVisible()).toBe(true);
    expect(await share.innerText()).toBe('Share');
    const box = (await share.boundingBox())!;
    expect(box.y).toBeLessThan(60);
    expect(box.x + box.width).toBeGreaterThan(1280 - 80);

    const people = p.getByTestId('people-panel');
    const button = p.getByTestId('people-button');
    await button.click();
    await people.waitFor();
    await p.keyboard.press('Escape');
    await expect.poll(() => people.count()).toBe(0);
    expect(await button.evaluate((el) => el === document.activeElement)).toBe(true);

    // Escape while typing in the name field closes it too
    await button.click();
    await people.getByRole('textbox').click();
    await p.keyboard.press('Escape');
    await expect.poll(() => people.count()).toBe(0);

    // a click on the canvas closes it
    await button.click();
    await people.waitFor();
    await p.mouse.click(640, 420);
    await expect.poll(() => people.count()).toBe(0);
    // clicks inside it do not
    await button.click();
    await people.getByRole('radio').first().click();
    expect(await people.count()).toBe(1);
    await button.click(); // the button still toggles it
    await expect.poll(() => people.count()).toBe(0);
    for (const r of opened) expect(r.errors).toEqual([]);
  });
});
