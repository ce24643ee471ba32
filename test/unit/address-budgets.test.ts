// AddressBudgets (server/socket/AddressBudgets.ts): connections per client address with handshake
// reservations, reservations that lapse, the shared byte budget, and the warning when a proxy's
// X-Forwarded-For arrives without TRUST_PROXY. The end-to-end behaviour is in
// test/integration/hardening-addresses.test.ts.
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { AddressBudgets } from '../../server/socket/AddressBudgets';

const req = (address: string, headers: Record<string, string> = {}) => ({ socket: { remoteAddress: address }, headers }) as unknown as IncomingMessage;
const engineSocket = (address: string) => Object.assign(new EventEmitter(), { request: req(address) });
const limits = { sockets: 2, bytes: { perSecond: 1000, burst: 4000 } };

describe('AddressBudgets', () => {
  it('reserves at the handshake, so concurrent handshakes cannot pass together; a closed connection frees its place', () => {
    const b = new AddressBudgets(limits, false);
    expect([b.allowHandshake(req('10.0.0.1')), b.allowHandshake(req('10.0.0.1'))]).toEqual([null, null]);
    expect(b.allowHandshake(req('10.0.0.1'))).toMatch(/too many connections from your address \(limit 2/);
    expect(b.allowHandshake(req('10.0.0.2'))).toBeNull();
    const [s1, s2] = [engineSocket('10.0.0.1'), engineSocket('10.0.0.1')];
    b.track(s1);
    b.track(s2);
    expect(b.connections('10.0.0.1')).toBe(2);
    expect(b.allowHandshake(req('::ffff:10.0.0.1'))).not.toBeNull(); // the same client
    s1.emit('close');
    expect(b.connections('10.0.0.1')).toBe(1);
    expect(b.allowHandshake(req('10.0.0.1'))).toBeNull();
  });

  it('a reservation that never became a connection lapses after 10 s', () => {
    let t = 0;
    const b = new AddressBudgets(limits, false, undefined, () => t);
    b.allowHandshake(req('10.0.0.1'));
    b.allowHandshake(req('10.0.0.1'));
    expect(b.allowHandshake(req('10.0.0.1'))).not.toBeNull();
    t = 10_001;
    expect(b.allowHandshake(req('10.0.0.1'))).toBeNull();
  });

  it('one byte budget per address, refilled over time', () => {
    let t = 0;
    const b = new AddressBudgets(limits, false, undefined, () => t);
    expect(b.takeBytes('10.0.0.1', 3000)).toBe(true);
    expect(b.takeBytes('10.0.0.1', 2000)).toBe(false);
    expect(b.takeBytes('10.0.0.2', 2000)).toBe(true);
    expect(b.waitMs('10.0.0.1', 2000)).toBe(1000);
    t = 1000;
    expect(b.takeBytes('10.0.0.1', 2000)).toBe(true);
  });

  it('warns once when X-Forwarded-For arrives without TRUST_PROXY, and logs a refused address once', () => {
    const warnings: string[] = [];
    const b = new AddressBudgets({ ...limits, sockets: 1 }, false, { warn: (_o: unknown, m?: string) => warnings.push(m ?? '') } as never);
    for (let i = 0; i < 5; i++) b.allowHandshake(req('10.0.0.9', { 'x-forwarded-for': `203.0.113.${i}` }));
    expect(warnings.filter((w) => /TRUST_PROXY is off/.test(w))).toHaveLength(1);
    expect(warnings.filter((w) => /refusing connections/.test(w))).toHaveLength(1);
    // with TRUST_PROXY the forwarded address is the client
    const trusted = new AddressBudgets({ ...limits, sockets: 1 }, true);
    expect(trusted.allowHandshake(req('10.0.0.9', { 'x-forwarded-for': '203.0.113.1' }))).toBeNull();
    expect(trusted.allowHandshake(req('10.0.0.9', { 'x-forwarded-for': '203.0.113.2' }))).toBeNull();
    expect(trusted.allowHandshake(req('10.0.0.9', { 'x-forwarded-for': '203.0.113.2' }))).not.toBeNull();
  });
});
