// What a failover costs a person (issue 11, acceptance 5): a browser reaches the cluster through
// one public address — a small TCP load balancer here, which sends each new connection to the first
// node that accepts it, as nginx does with `max_fails` — and draws; node A is killed (`kill -9`);
// the page reconnects by itself through the same address to node B. Measured: from the kill until
// the page is connected and editing again; checked: every stroke drawn before the kill and during
// the outage is in the room afterwards, as a client of node B sees it.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../helpers/cluster';
import { connectPeer, until, type Peer } from '../helpers/yclient';
import { createSharedRoom, launchBrowser, openRoom, waitInPage } from './browser';

/** A TCP load balancer in front of `upstreams` (ports): each connection goes to the first that accepts it. */
async function loadBalancer(upstreams: number[]): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    const tryUpstream = (i: number) => {
      if (i >= upstreams.length) return client.destroy();
      const up = connect(upstreams[i]!, '127.0.0.1');
      up.once('connect', () => {
        sockets.add(up);
        up.on('close', () => sockets.delete(up));
        client.pipe(up).pipe(client);
        up.on('error', () => client.destroy());
        client.on('error', () => up.destroy());
      });
      up.once('error', () => tryUpstream(i + 1));
    };
    tryUpstream(0);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

async function drawStroke(page: Page, points: Array<[number, number]>) {
  await page.mouse.move(...points[0]!);
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...p, { steps: 4 });
  await page.mouse.up();
}

const status = (page: Page) => page.getByTestId('connection-status').getAttribute('data-status');
const drawCount = (peer: Peer) => [...peer.records.values()].filter((r) => (r as { type?: string }).type === 'draw').length;

describe('failover through one public address', () => {
  let cluster: TestCluster;
  let browser: Browser;
  let lb: Awaited<ReturnType<typeof loadBalancer>>;
  let watcher: Peer | undefined;

  beforeAll(async () => {
    [cluster, browser] = await Promise.all([startCluster(2, { web: true }), launchBrowser()]);
    lb = await loadBalancer(cluster.nodes.map((n) => n.port));
  }, 180_000);

  afterAll(async () => {
    watcher?.close();
    await browser?.close();
    await lb?.close();
    await cluster?.stop();
  }, 60_000);

  it('kill -9 of the node a page is on: the page reconnects through the same address and keeps editing; nothing is lost', async () => {
    const [A, B] = cluster.nodes;
    const publicUrl = `http://127.0.0.1:${lb.port}`;
    const { roomId, links } = await createSharedRoom(publicUrl);
    const page = await openRoom(browser, publicUrl, links.editor, { participant: { id: 'e2e-failover', name: 'Fay', color: '#2F80ED' } });
    // a client of node B that watches the room (its token from the editor link)
    const token = links.editor.slice(links.editor.indexOf('#k=') + 3);
    watcher = await connectPeer(B!.url, roomId, { token });

    await page.page.keyboard.press('d');
    await drawStroke(page.page, [[300, 300], [400, 350], [500, 300]]);
    await until(() => drawCount(watcher!) === 1, 5_000, 'the first stroke on node B');

    // the page is on node A (the balancer's first choice): kill it
    A!.proc.kill('SIGKILL');
    const killedAt = Date.now();
    await waitInPage(page.page, () => document.querySelector('[data-testid="connection-status"]')?.getAttribute('data-status') !== 'connected', 5_000, 'the page notices');
    // drawn while disconnected: kept in the page, sent after the reconnect
    await drawStroke(page.page, [[300, 500], [400, 550], [500, 500]]);
    await expect.poll(() => status(page.page), { timeout: 20_000, interval: 20 }).toBe('connected');
    const editingAgainMs = Date.now() - killedAt;
    await drawStroke(page.page, [[600, 300], [650, 400], [700, 300]]);
    await until(() => drawCount(watcher!) === 3, 10_000, 'all three strokes on node B');
    console.log(`[cluster failover] page connected and editing again ${editingAgainMs} ms after kill -9 of its node (socket.io-client reconnection delay included)`);
    expect(page.errors.filter((e) => !/WebSocket|socket\.io|ERR_CONNECTION|Failed to load resource/i.test(e))).toEqual([]);
  }, 120_000);
});
