// Shared set-up: a client wired to a fake socket class, with Node's mocked timers.
import { mock } from 'node:test';

import { WsClient } from '../wsclient.js';
import { makeFakeWebSocket } from './fake-websocket.js';

export const URL_BASE = 'ws://127.0.0.1:3001/dev';

/** Let pending promise callbacks run (setImmediate is not mocked). */
export function flush() {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Install fake setTimeout/setInterval; undone by mock.timers.reset() in afterEach. */
export function useFakeTimers() {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
}

/**
 * A client on a fresh fake socket class, plus a record of its state changes and errors.
 * @param {import('../wsclient.js').ClientOptions | object} [options]
 */
export function makeClient(options = {}) {
  const FakeWebSocket = makeFakeWebSocket();
  const client = new WsClient(URL_BASE, { token: 'tok', WebSocket: FakeWebSocket, ...options });
  const states = [];
  const errors = [];
  client.on('state', (change) => states.push(change));
  client.on('error', (err) => errors.push(err));
  return { client, FakeWebSocket, states, errors };
}

/** A client that is connected to an accepted fake socket. */
export async function connected(options = {}) {
  const made = makeClient(options);
  const opening = made.client.connect();
  await flush();
  const socket = made.FakeWebSocket.last();
  socket.accept();
  await opening;
  return { ...made, socket };
}
