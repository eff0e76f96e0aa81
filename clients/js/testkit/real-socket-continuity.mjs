// Drives the JS client's delivery continuity (protocol v1.1) over a real WebSocket (Node's
// built-in one) against the fake gateway of tests/clients in its v1.1 mode; run by
// tests/clients/test_js_client_real_socket.py, which plays the server side. Joins one room and
// prints one JSON line per thing the application sees, as it happens: `joined` (the ack's
// latestSeq), `message` / `event` (seq and messageId), `discontinuity`, `rejoin`, `state`,
// `error`. Exits after a user-targeted event named `done` (which is not numbered).
//
// usage: node [--experimental-websocket] real-socket-continuity.mjs ws://127.0.0.1:PORT/dev ROOM
import { WsClient } from '../wsclient.js';

const [url, roomId] = process.argv.slice(2);
const out = (step, value) => process.stdout.write(`${JSON.stringify({ step, value })}\n`);

let tokens = 0;
const client = new WsClient(url, {
  token: async () => `continuity-${++tokens}`,
  backoffBaseMs: 50,
  requestTimeoutMs: 5000,
  gapWaitMs: 100,
});
const done = new Promise((resolve) => {
  client.on('event', (e) => {
    if (e.event === 'done') resolve();
    else out('event', { seq: e.seq, messageId: e.messageId });
  });
});
client.on('message', (m) => out('message', { seq: m.seq, messageId: m.messageId }));
client.on('discontinuity', (d) => out('discontinuity', d));
client.on('rejoin', (ack) => out('rejoin', { roomId: ack.roomId, latestSeq: ack.latestSeq }));
client.on('state', ({ state, code }) => out('state', { state, code }));
client.on('error', (err) => out('error', { code: err.code, roomId: err.roomId }));

await client.connect();
const join = await client.joinRoom(roomId);
out('joined', { latestSeq: join.latestSeq });
await done;
client.close();
