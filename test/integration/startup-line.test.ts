// A person starting the server gets one plain line with an address to click, besides the JSON logs.
import { afterAll, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server';
import { until } from '../helpers/yclient';

let server: TestServer | undefined;
afterAll(async () => {
  await server?.stop();
});

it('prints "Livecanvas is running: http://localhost:<port>" once it listens', async () => {
  server = await startServer({ env: { HOST: '0.0.0.0', LOG_LEVEL: 'info' } });
  await until(() => server!.output().includes('Livecanvas is running'), 10_000, 'the plain start line');
  const line = server.output().split('\n').find((l) => l.startsWith('Livecanvas is running'));
  expect(line).toBe(`Livecanvas is running: http://localhost:${server.port}`);
});
