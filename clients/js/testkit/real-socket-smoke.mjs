// Drives the JS client over a real WebSocket (Node's built-in one) against the fake protocol v1
// server of tests/clients; run by tests/clients/test_js_client_real_socket.py, which plays the
// server side. Prints one JSON line per step on stdout.
//
// usage: node [--experimental-websocket] real-socket-smoke.mjs ws://127.0.0.1:PORT/dev
import { WsClient } from '../wsclient.js';

const url = process.argv[2];
const out = (step, value) => process.stdout.write(`${JSON.stringify({ step, value })}\n`);
const once = (client, type) =>
  new Promise((resolve) => {
    const off = client.on(type, (payload) => {
      off();
      resolve(payload);
    });
  });

let tokens = 0;
const client = new WsClient(url, {
  token: async () => `smoke-${++tokens}`,
  backoffBaseMs: 50,
  requestTimeoutMs: 5000,
});
client.on('state', ({ state, code }) => out('state', { state, code }));

await client.connect();
const join = await client.joinRoom('lobby');
out('join', join.members);
const message = once(client, 'message');
const sent = await client.sendMessage('lobby', { text: 'héllo' });
out('sent', sent.messageId);
out('message', (await message).data);
try {
  await client.leaveRoom('other');
} catch (err) {
  out('error', err.code);
}
const rejoined = once(client, 'rejoin');
await client.heartbeat(); // the server drops the connection after this ack
out('rejoin', (await rejoined).roomId);
out('presence', (await client.getPresence('lobby')).users);
client.close();
