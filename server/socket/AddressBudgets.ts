// Limits per client address, over all of its connections: the per-socket budgets (SocketGuard)
// multiply with the number of sockets, and one script can open hundreds. An address may hold
// MAX_SOCKETS_PER_ADDRESS connections at once, and what all of them send shares one byte budget
// (ADDRESS_BYTES_*). Addresses come from clientAddress (TRUST_PROXY: the proxy's X-Forwarded-For).
//
// Connections are counted at the engine.io level, where a handshake is refused before any
// Socket.IO state exists: `allowRequest` checks and reserves a place, and the connection takes
// it. engine.io awaits between the two (id generation), so without the reservation many
// concurrent handshakes would all pass the check; a reservation that never becomes a connection
// (the handshake failed later) lapses after RESERVATION_MS.
import type { IncomingMessage } from 'node:http';
import type { AddressLimits } from '../config';
import { clientAddress } from '../http/clientAddress';
import type { Logger } from '../logger';
import { TokenBucket } from './SocketGuard';

const RESERVATION_MS = 10_000;

interface AddressState {
  sockets: number;
  /** times of handshakes allowed but not yet connected */
  reserved: number[];
  bytes: TokenBucket;
  /** a refusal was logged (once per address while it is known: an attacker retries forever) */
  refusalLogged?: boolean;
}

/** The part of an engine.io socket this needs. */
interface EngineSocket {
  request: IncomingMessage;
  once(event: 'close', listener: () => void): unknown;
}

export class AddressBudgets {
  private readonly byAddress = new Map<string, AddressState>();
  private proxyWarned = false;

  constructor(
    readonly limits: AddressLimits,
    private readonly trustProxy: boolean,
    private readonly log?: Pick<Logger, 'warn'>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  addressOf(req: IncomingMessage): string {
    return clientAddress(req, this.trustProxy);
  }

  /** engine.io `allowRequest` (after the origin check): a handshake from an address that already
   * holds its connections is refused (403 with this message). */
  allowHandshake(req: IncomingMessage): string | null {
    const address = this.addressOf(req);
    if (!this.trustProxy && !this.proxyWarned && req.headers['x-forwarded-for'] !== undefined) {
      // Behind a reverse proxy every client has the proxy's address: 32 people in all could connect.
      this.proxyWarned = true;
      this.log?.warn(
        { address },
        'connections arrive with X-Forwarded-For but TRUST_PROXY is off: everyone behind that proxy counts as one client address for MAX_SOCKETS_PER_ADDRESS, ADDRESS_BYTES_* and ROOMS_PER_HOUR; set TRUST_PROXY=1 if the proxy is yours',
      );
    }
    const state = this.state(address);
    const t = this.now();
    while (state.reserved.length > 0 && state.reserved[0]! <= t - RESERVATION_MS) state.reserved.shift();
    if (state.sockets + state.reserved.length >= this.limits.sockets) {
      if (!state.refusalLogged) this.log?.warn({ address, limit: this.limits.sockets }, 'refusing connections: the address holds MAX_SOCKETS_PER_ADDRESS connections');
      state.refusalLogged = true;
      return `too many connections from your address (limit ${this.limits.sockets}, MAX_SOCKETS_PER_ADDRESS); close other tabs and try again`;
    }
    state.reserved.push(t);
    return null;
  }

  /** engine.io `connection`: the handshake's reservation becomes a connection, until it closes. */
  track(socket: EngineSocket): void {
    const address = this.addressOf(socket.request);
    const state = this.state(address);
    state.reserved.shift();
    state.sockets++;
    socket.once('close', () => {
      state.sockets--;
      this.forgetWhenIdle(address, state);
    });
  }

  /** Take `n` bytes from the address's budget; false when it has not enough. */
  takeBytes(address: string, n: number): boolean {
    return this.state(address).bytes.take(n);
  }

  waitMs(address: string, n: number): number {
    return this.state(address).bytes.waitMs(n);
  }

  /** connections open now (for tests) */
  connections(address: string): number {
    return this.byAddress.get(address)?.sockets ?? 0;
  }

  private state(address: string): AddressState {
    let state = this.byAddress.get(address);
    if (!state) {
      state = { sockets: 0, reserved: [], bytes: new TokenBucket(this.limits.bytes.perSecond, this.limits.bytes.burst, this.now) };
      this.byAddress.set(address, state);
    }
    return state;
  }

  /** An address with no connection is forgotten once its byte budget has refilled: reconnecting
   * at once does not reset a spent budget, and idle addresses hold no memory. */
  private forgetWhenIdle(address: string, state: AddressState): void {
    if (state.sockets > 0 || state.reserved.length > 0) return;
    const refillMs = state.bytes.waitMs(this.limits.bytes.burst);
    const forget = () => {
      if (this.byAddress.get(address) === state && state.sockets === 0 && state.reserved.length === 0) this.byAddress.delete(address);
    };
    if (refillMs === 0) forget();
    else setTimeout(forget, refillMs + 100).unref();
  }
}
