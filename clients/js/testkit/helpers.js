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

/** Advance the fake clock, then let the promise callbacks it caused run. */
export async function advance(ms) {
  mock.timers.tick(ms);
  await flush();
}

/**
 * An unsigned JWT-shaped token with these claims (the client reads `exp`/`iat`, never verifies).
 * @param {Record<string, unknown>} claims
 */
export function makeJwt(claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part({ sub: 'alice', tenant: 'acme', ...claims })}.c2ln`;
}

/**
 * A numbered room message, as the server delivers it and history returns it (protocol v1.1).
 * @param {string} roomId
 * @param {number} seq
 * @param {Record<string, unknown>} [fields]
 */
export function roomMessage(roomId, seq, fields = {}) {
  return {
    type: 'message',
    roomId,
    messageId: `${roomId}-m${seq}`,
    seq,
    from: { userId: 'bob' },
    data: { n: seq },
    sentAt: '2026-01-01T00:00:00Z',
    ...fields,
  };
}

/**
 * Answer the last getHistory the client sent on `socket` with a page (protocol v1.1 ack).
 * @param {import('./fake-websocket.js').FakeSocketBase} socket
 * @param {{messages?: object[], latestSeq: number, earliestSeq?: number, hasMore?: boolean}} page
 */
export function answerHistory(socket, page) {
  const request = socket.lastSent('getHistory');
  if (!request) throw new Error('the client sent no getHistory');
  socket.ack(request, { roomId: request.roomId, messages: [], earliestSeq: 1, hasMore: false, ...page });
  return request;
}

/**
 * Make `socket` answer getPresence as a v1.1 server does: `users` in id order, a page at a
 * time after `cursor` (the last id of the previous page), `memberCount` for a room and
 * `nextCursor` (with the v1 `truncated`) while more follow. `online` maps a roomId (or
 * `null`, the whole tenant) to its user ids; it is read at each request, so a test may change
 * it between pages. Returns the getPresence frames received. Past `maxRequests` it answers
 * nothing and the send throws: paging that never ends fails (with `disconnected`) instead of
 * looping on microtasks, where no test timeout can fire.
 * @param {import('./fake-websocket.js').FakeSocketBase} socket
 * @param {Map<string | null, string[]>} online
 * @param {number} [defaultLimit] the server's page size when the request gives none
 * @param {number} [maxRequests]
 */
export function servePresence(socket, online, defaultLimit = 100, maxRequests = 50) {
  const received = [];
  const send = socket.send.bind(socket);
  socket.send = (text) => {
    send(text);
    const frame = JSON.parse(text);
    if (frame.action !== 'getPresence') return;
    received.push(frame);
    if (received.length > maxRequests) throw new Error(`getPresence asked ${received.length} times`);
    const roomId = frame.roomId ?? null;
    const everyone = [...(online.get(roomId) ?? [])].sort();
    const after = everyone.filter((user) => frame.cursor === undefined || user > frame.cursor);
    const page = after.slice(0, frame.limit ?? defaultLimit);
    const fields = { users: page.map((userId) => ({ userId })) };
    if (roomId !== null) Object.assign(fields, { roomId, memberCount: everyone.length });
    if (after.length > page.length) Object.assign(fields, { nextCursor: page.at(-1), truncated: true });
    queueMicrotask(() => socket.ack(frame, fields)); // the reply comes after send() returns
  };
  return received;
}
