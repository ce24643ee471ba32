// Cluster mode (REDIS_URL): this node's link to the others through Redis — the Socket.IO Redis
// adapter (a broadcast to a room reaches its sockets on every node: renders, frame status, access
// revocations), the document relay (RoomRelay), node heartbeats, and the status people see when
// the link fails. Redis holds nothing durable: PostgreSQL is the source of truth, so an outage
// costs live propagation between nodes, never an acknowledged edit.
import { createAdapter } from '@socket.io/redis-adapter';
import Redis from 'ioredis';
import type { Server as SocketServer } from 'socket.io';
import { EV, type ServerStatus } from '../../lib/protocol/events';
import type { Logger } from '../logger';
import type { RoomManager } from '../rooms/RoomManager';
import { RoomRelay } from './RoomRelay';
import { SharedBuckets } from './SharedBuckets';

/** Each node announces itself this often… */
const HEARTBEAT_MS = 1_000;
/** …and one unheard from for this long is gone: its clients' cursors are removed. */
const NODE_TIMEOUT_MS = 3_500;
const NODES_CHANNEL = 'lc:nodes';

export interface ClusterStatus {
  nodeId: string;
  redis: { reachable: boolean; latencyMs: number | null; url: string };
  /** other nodes heard from, with the ms since their last heartbeat */
  nodes: Record<string, number>;
  relay: RoomRelay['counts'];
}

export class ClusterLink {
  readonly relay: RoomRelay;
  private readonly log: Logger;
  private readonly clients: Redis[];
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly adapterPub: Redis;
  private readonly adapterSub: Redis;
  private readonly peers = new Map<string, number>();
  private readonly timers: NodeJS.Timeout[] = [];
  private up = false;
  private wasDown = false;
  private latencyMs: number | null = null;

  private constructor(
    private readonly url: string,
    readonly nodeId: string,
    private readonly io: SocketServer,
    logger: Logger,
  ) {
    this.log = logger.child({ module: 'cluster' });
    const options = { lazyConnect: true, maxRetriesPerRequest: 2, retryStrategy: (n: number) => Math.min(200 * n, 2_000) };
    // Publishes are never queued while Redis is away: the catch-up after it returns covers them.
    this.pub = new Redis(url, { ...options, enableOfflineQueue: false, connectionName: `livecanvas:${nodeId}:pub` });
    this.sub = new Redis(url, { ...options, connectionName: `livecanvas:${nodeId}:sub` });
    this.adapterPub = new Redis(url, { ...options, connectionName: `livecanvas:${nodeId}:io-pub` });
    this.adapterSub = new Redis(url, { ...options, connectionName: `livecanvas:${nodeId}:io-sub` });
    this.clients = [this.pub, this.sub, this.adapterPub, this.adapterSub];
    for (const c of this.clients) c.on('error', () => {}); // reported through 'close' / 'ready' below
    this.relay = new RoomRelay(this.pub, this.sub, nodeId, logger);
    this.sub.on('ready', () => this.onReady());
    this.sub.on('close', () => this.onDown());
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (channel.toString() === NODES_CHANNEL) this.onHeartbeat(message.toString());
    });
  }

  /** Connects to Redis; refuses to start when it cannot be reached at all. */
  static async connect(url: string, nodeId: string, io: SocketServer, logger: Logger): Promise<ClusterLink> {
    const link = new ClusterLink(url, nodeId, io, logger);
    try {
      await Promise.all(link.clients.map((c) => c.connect()));
      await link.sub.subscribe(NODES_CHANNEL);
      io.adapter(createAdapter(link.adapterPub, link.adapterSub, { key: 'lc:io', requestsTimeout: 3_000 }));
    } catch (e) {
      await link.close();
      throw new Error(`cannot reach Redis at ${redactUrl(url)} (REDIS_URL): ${(e as Error).message}`, { cause: e });
    }
    link.up = true;
    link.timers.push(setInterval(() => link.beat(), HEARTBEAT_MS), setInterval(() => link.sweep(), HEARTBEAT_MS));
    for (const t of link.timers) t.unref();
    link.log.info({ node: nodeId, redis: redactUrl(url) }, 'cluster mode: linked to the other nodes through Redis');
    return link;
  }

  /** A new connection to the cluster's Redis for a feature (closed with the link). */
  connection(purpose: string): Redis {
    const c = new Redis(this.url, { maxRetriesPerRequest: 2, connectionName: `livecanvas:${this.nodeId}:${purpose}` });
    c.on('error', () => {});
    this.clients.push(c);
    return c;
  }

  /** A per-key limit shared by every node (e.g. ROOMS_PER_HOUR by client address). */
  sharedLimit(name: string, perSecond: number, burst: number): SharedBuckets {
    return new SharedBuckets(this.pub, name, perSecond, burst);
  }

  /** Tell clients joining while the link is down that changes do not reach other nodes yet. */
  attach(rooms: RoomManager): void {
    rooms.on('client-joined', (_room, socket) => {
      if (!this.up) socket.emit(EV.serverStatus, degradedStatus);
    });
  }

  status(): ClusterStatus {
    const now = Date.now();
    const nodes = Object.fromEntries([...this.peers].map(([id, seen]) => [id, now - seen]));
    return { nodeId: this.nodeId, redis: { reachable: this.up, latencyMs: this.latencyMs, url: redactUrl(this.url) }, nodes, relay: this.relay.counts };
  }

  problems(): string[] {
    return this.up ? [] : [`Redis (${redactUrl(this.url)}) is unreachable: edits are saved, but they reach people on other nodes only once it is back`];
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await Promise.all(this.clients.map((c) => c.quit().catch(() => c.disconnect())));
  }

  private beat(): void {
    const started = performance.now();
    this.pub.publish(NODES_CHANNEL, this.nodeId).then(
      () => (this.latencyMs = Math.round((performance.now() - started) * 10) / 10),
      () => (this.latencyMs = null),
    );
  }

  private onHeartbeat(node: string): void {
    if (node === this.nodeId) return;
    const known = this.peers.has(node);
    this.peers.set(node, Date.now());
    if (known) return;
    // A node that (re)appears has none of this node's presence: announce it.
    this.log.info({ node }, 'node joined the cluster');
    for (const room of this.relay.rooms()) {
      const mine = room.presence.messageOf(room.clients.keys());
      if (mine) this.relay.publishAwareness(room.id, mine);
    }
  }

  /** Nodes unheard from: their clients' cursors go. */
  private sweep(): void {
    const now = Date.now();
    for (const [node, seen] of this.peers) {
      if (now - seen < NODE_TIMEOUT_MS) continue;
      this.peers.delete(node);
      this.log.warn({ node, silentMs: now - seen }, 'node left the cluster (no heartbeat): removing its clients’ presence');
      for (const room of this.relay.rooms()) room.presence.dropNode(node);
    }
  }

  private onDown(): void {
    if (!this.up) return;
    this.up = false;
    this.wasDown = true;
    this.latencyMs = null;
    this.log.error({ redis: redactUrl(this.url) }, 'lost the link to Redis: edits are still saved; other nodes see them once it is back');
    this.io.local.emit(EV.serverStatus, degradedStatus);
  }

  private onReady(): void {
    if (this.up || !this.wasDown) return;
    this.up = true;
    this.log.info('Redis is back: catching rooms up from the store');
    void (async () => {
      await this.relay.resync();
      this.io.local.emit(EV.serverStatus, { sync: 'ok', message: 'Live sync with everyone in the room is back.' } satisfies ServerStatus);
    })();
  }
}

const degradedStatus: ServerStatus = {
  sync: 'degraded',
  message: 'Live sync between servers is interrupted: your changes are saved, and reach people connected through other servers as soon as it is back.',
};

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
