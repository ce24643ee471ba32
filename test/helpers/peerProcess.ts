// One room peer in a process of its own, joining with a link token, for tests where a participant
// must vanish without closing anything (SIGSTOP = a frozen machine or a dead network):
//   node --import tsx test/helpers/peerProcess.ts <url> <roomId> <name> [token]
// It prints `ready <awareness clientID>` once joined and synced. (yclient.ts run as a script does
// the same without a token, which only an open room admits; a created room needs its link's token,
// which lives in the parent test's memory: roomToken(roomId).)
import { connectPeer } from './yclient';

const [url, roomId, name = 'peer', token] = process.argv.slice(2);
if (!url || !roomId) {
  console.error('usage: node --import tsx test/helpers/peerProcess.ts <url> <roomId> [name] [token]');
  process.exit(2);
}
connectPeer(url, roomId, { user: { name, color: '#3366ff' }, ...(token && { token }) }).then(
  (p) => process.stdout.write(`ready ${p.doc.clientID}\n`),
  (err: Error) => {
    console.error(`peer failed: ${err.message}`);
    process.exit(1);
  },
);
