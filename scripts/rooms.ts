// Operator commands for shared rooms (access control):
//   npm run rooms -- claim <roomId>   make an open room (one from before access control) a shared
//                                     room and print its owner, edit and view links
//   npm run rooms -- links <roomId>   print a shared room's current links
// Reads DATA_DIR (or DATABASE_URL) and AUTH_SECRET like the server, so the links it prints work on
// that server (or cluster).
import { Command } from 'commander';
import { loadConfig } from '../server/config';
import { AccessControl } from '../server/auth/AccessControl';
import { RoomAccess } from '../server/auth/RoomAccess';
import { RoomTokens } from '../server/auth/RoomTokens';
import { createLogger } from '../server/logger';
import { openRoomStore } from '../server/store/openRoomStore';
import type { RoomStore } from '../server/store/RoomStore';
import { ROOM_ID_PATTERN } from '../lib/protocol/limits';

const config = loadConfig(process.env, []);
const base = process.env.PUBLIC_URL ?? `http://localhost:${config.port}`;

/** Opens the store and access control, runs `fn` on them for a checked room id, closes the store. */
async function withRoom(roomId: string, fn: (store: RoomStore, access: AccessControl) => Promise<void>): Promise<void> {
  if (!ROOM_ID_PATTERN.test(roomId)) throw new Error(`'${roomId}' is not a room id`);
  const store = await openRoomStore(config, createLogger('warn'));
  try {
    const tokens = await RoomTokens.create({ dataDir: config.dataDir, secret: process.env.AUTH_SECRET || undefined });
    await fn(store, new AccessControl(tokens, await RoomAccess.open(store.sql), { openRooms: true, hasDocument: (id) => store.hasRoom(id) }));
  } finally {
    await store.close();
  }
}

function printLinks(links: Record<string, string>) {
  for (const [role, link] of Object.entries(links)) console.log(`${role.padEnd(7)} ${base}${link}`);
}

const program = new Command().name('rooms').description('shared rooms: claim open ones, print links');
program
  .command('claim <roomId>')
  .description('make an open room a shared room owned by you; prints its three links')
  .action((roomId: string) =>
    withRoom(roomId, async (store, access) => {
      if (!(await store.hasRoom(roomId)) && !(await access.access.get(roomId))) throw new Error(`room ${roomId} does not exist in ${store.path}`);
      if (!(await access.claim(roomId))) console.error(`room ${roomId} is already a shared room; its current links:`);
      printLinks(await access.links(roomId));
    }),
  );
program
  .command('links <roomId>')
  .description("print a shared room's current owner, edit and view links")
  .action((roomId: string) =>
    withRoom(roomId, async (_store, access) => {
      if (!(await access.access.get(roomId))) throw new Error(`room ${roomId} is not a shared room (claim it first)`);
      printLinks(await access.links(roomId));
    }),
  );
program.parseAsync().catch((e: Error) => {
  console.error(`rooms: ${e.message}`);
  process.exit(1);
});
