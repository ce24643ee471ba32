// ENGINE_DEVICE_ID(S): a GPU index pins onnxruntime's provider to one device; the CPU has none.
// (No GPU here: this checks what the sessions are asked for, and the config that leads there.)
import { describe, expect, it } from 'vitest';
import { sessionOptions } from '../../lib/diffusion/sessions';
import { loadConfig } from '../../server/config';

describe('device pinning', () => {
  it('asks cuda for the given device and leaves the CPU alone', () => {
    expect(sessionOptions('cuda', 2, 1).executionProviders).toEqual([{ name: 'cuda', deviceId: 1 }]);
    expect(sessionOptions('cpu', 2, 1).executionProviders).toEqual(['cpu']);
    expect(sessionOptions('cuda', 2).executionProviders).toEqual(['cuda']);
  });

  it('reads ENGINE_DEVICE_IDS as one GPU per engine worker, and ENGINE_DEVICE_ID as one', () => {
    const env = (vars: Record<string, string>) => vars as NodeJS.ProcessEnv;
    expect(loadConfig(env({ ENGINE_DEVICE_IDS: '0,1', RENDER_CONCURRENCY: '2' }), []).render.deviceIds).toEqual([0, 1]);
    expect(loadConfig(env({ ENGINE_DEVICE_ID: '3' }), []).render.deviceIds).toEqual([3]);
    expect(loadConfig(env({}), []).render.deviceIds).toBeUndefined();
    expect(() => loadConfig(env({ ENGINE_DEVICE_IDS: 'gpu0' }), [])).toThrow(/ENGINE_DEVICE_IDS/);
  });
});
