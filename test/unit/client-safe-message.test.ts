// Issue 9, finding 9: engine errors broadcast absolute server paths to every client of a room.
// clientSafeMessage (server/http/clientSafeMessage.ts) is what a server-side error becomes before
// it is sent: its first line, absolute paths reduced to their last part, at most 300 characters.
import { describe, expect, it } from 'vitest';
import { clientSafeMessage, MAX_CLIENT_MESSAGE_CHARS } from '../../server/http/clientSafeMessage';

describe('clientSafeMessage', () => {
  it('reduces absolute POSIX, home, Windows and file: paths to their last part', () => {
    expect(clientSafeMessage(new Error("ENOENT: no such file or directory, open '/srv/livecanvas/models/local/sdxs-512/unet/model.onnx'"))).toBe(
      "ENOENT: no such file or directory, open '…/model.onnx'",
    );
    expect(clientSafeMessage(new Error('model folder ~/models/tiny-lcm/unet is not readable'))).toBe('model folder …/unet is not readable');
    expect(clientSafeMessage(new Error('cannot load C:\\Users\\ada\\livecanvas\\models\\x.onnx (bad magic)'))).toBe('cannot load …/x.onnx (bad magic)');
    expect(clientSafeMessage(new Error('at file:///home/ada/livecanvas/lib/diffusion/sessions.ts:12:5'))).toBe('at …/sessions.ts:12:5');
    expect(clientSafeMessage(new Error('engine crashed (worker at /opt/app/server/engine/engineWorker.ts:40:7 exited)'))).toBe(
      'engine crashed (worker at …/engineWorker.ts:40:7 exited)',
    );
  });

  it('keeps ordinary text (sizes, ratios, fractions) and sends only the first line, bounded', () => {
    expect(clientSafeMessage(new Error('steps 4 > floor(50·0.05); use 2/3 of the strength or w/h 512/512'))).toBe(
      'steps 4 > floor(50·0.05); use 2/3 of the strength or w/h 512/512',
    );
    const stack = new Error('render failed: out of memory');
    stack.message += '\n    at run (/srv/app/lib/diffusion/Img2ImgPipeline.ts:200:3)';
    expect(clientSafeMessage(stack)).toBe('render failed: out of memory');
    expect(clientSafeMessage(new Error('x'.repeat(1000))).length).toBe(MAX_CLIENT_MESSAGE_CHARS);
    expect(clientSafeMessage(undefined)).toBe('internal error');
    expect(clientSafeMessage({ message: 42 }, 'render failed')).toBe('render failed');
    expect(clientSafeMessage('plain /tmp/lc-123/x.png text')).toBe('plain …/x.png text');
  });
});
