// The Yjs client-id bindings of a room (server/rooms/yjsWriters.ts): first writer owns an id until
// it leaves, the server's own id is nobody's, and one connection holds a bounded number of ids.
import { describe, expect, it } from 'vitest';
import { ForeignClientError, YjsWriters } from '../../server/rooms/yjsWriters';

describe('YjsWriters', () => {
  it('binds an id to its first writer until that connection leaves', () => {
    const w = new YjsWriters(8, () => 999);
    w.check([1, 2], 'a');
    w.claim([1, 2], 'a');
    expect(() => w.check([2], 'b')).toThrow(ForeignClientError);
    expect(() => w.check([3, 1], 'b')).toThrow(/client id 1, which belongs to another connection/);
    w.check([1, 2, 3], 'a');
    w.release('a');
    w.check([1, 2], 'b');
  });

  it("never lets a client write with the server's own id", () => {
    let serverId = 999;
    const w = new YjsWriters(8, () => serverId);
    expect(() => w.check([999], 'a')).toThrow(ForeignClientError);
    serverId = 1000; // Yjs may give the server's doc a new id
    w.check([999], 'a');
    expect(() => w.check([1000], 'a')).toThrow(ForeignClientError);
  });

  it('bounds the ids one connection may hold; refused updates claim nothing', () => {
    const w = new YjsWriters(3, () => 999);
    w.check([1, 2], 'a');
    w.claim([1, 2], 'a');
    expect(() => w.check([3, 4], 'a')).toThrow(/at most 3/);
    w.check([3], 'a');
    w.claim([3], 'a');
    w.check([1, 2, 3], 'a'); // its own ids cost nothing more
    w.check([4, 5, 6], 'b'); // others are not affected
  });
});
