// Reconnect with full-jitter backoff, terminal close codes, rejoin, heartbeat and close().
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';

import {
  backoffDelay,
  DEFAULTS,
  isTerminalCloseCode,
  MAX_HEARTBEAT_INTERVAL_MS,
  WsClient,
} from '../wsclient.js';
import { connected, flush, makeClient, URL_BASE, useFakeTimers } from '../testkit/helpers.js';

beforeEach(useFakeTimers);
afterEach(() => mock.timers.reset());

/** Advance the fake clock and let the async dial (token fetch) run. */
async function advance(ms) {
  mock.timers.tick(ms);
  await flush();
}

describe('backoffDelay (full jitter)', () => {
  it('stays within [0, min(cap, base * 2^n)) for every attempt', () => {
    const base = 500;
    const cap = 30_000;
    for (let n = 0; n < 12; n += 1) {
      const ceiling = Math.min(cap, base * 2 ** n);
      assert.equal(
        backoffDelay(n, base, cap, () => 0),
        0,
      );
      assert.equal(
        backoffDelay(n, base, cap, () => 0.5),
        ceiling / 2,
      );
      const top = backoffDelay(n, base, cap, () => 0.999999);
      assert.ok(top < ceiling && top > ceiling * 0.99, `attempt ${n}: ${top} vs ${ceiling}`);
    }
  });

  it('is capped: huge attempt numbers never exceed the cap', () => {
    assert.equal(
      backoffDelay(1000, 500, 30_000, () => 0.5),
      15_000,
    );
  });

  it('draws a fresh random number for each delay (Math.random by default)', () => {
    const delays = new Set(Array.from({ length: 20 }, () => backoffDelay(3, 500, 30_000)));
    assert.ok(delays.size > 1);
    for (const d of delays) assert.ok(d >= 0 && d < 4000);
  });
});

describe('reconnect', () => {
  it('waits the jittered delay, then redials with a freshly fetched token', async () => {
    let calls = 0;
    const { client, FakeWebSocket, states } = await connected({
      token: async () => `t${++calls}`,
      random: () => 0.5,
      backoffBaseMs: 1000,
    });
    FakeWebSocket.last().drop(1006);
    assert.equal(client.state, 'reconnecting');
    const change = states.at(-1);
    assert.deepEqual(
      { attempt: change.attempt, delayMs: change.delayMs, code: change.code },
      { attempt: 1, delayMs: 500, code: 1006 },
    );
    await advance(499);
    assert.equal(FakeWebSocket.instances.length, 1);
    await advance(1);
    assert.equal(FakeWebSocket.instances.length, 2);
    assert.equal(new URL(FakeWebSocket.last().url).searchParams.get('token'), 't2');
    FakeWebSocket.last().accept();
    assert.equal(client.state, 'open');
    client.close();
  });

  it('grows the delay ceiling exponentially up to the cap, and resets it after an open', async () => {
    const { client, FakeWebSocket, states } = await connected({
      random: () => 0.5,
      backoffBaseMs: 100,
      backoffCapMs: 1000,
    });
    const delays = [];
    FakeWebSocket.last().drop(1006);
    for (let i = 0; i < 6; i += 1) {
      const { delayMs } = states.at(-1);
      delays.push(delayMs);
      await advance(delayMs);
      FakeWebSocket.last().refuse();
    }
    assert.deepEqual(delays, [50, 100, 200, 400, 500, 500]);
    await advance(states.at(-1).delayMs);
    FakeWebSocket.last().accept();
    FakeWebSocket.last().drop(1001);
    assert.equal(states.at(-1).delayMs, 50);
    client.close();
  });

  it('reconnects after non-terminal codes (1000 server close, 1001, 1006, 1009, 1011)', async () => {
    for (const code of [1000, 1001, 1006, 1009, 1011]) {
      const { client, FakeWebSocket } = await connected({ random: () => 0 });
      FakeWebSocket.last().drop(code);
      await advance(0);
      assert.equal(FakeWebSocket.instances.length, 2, `code ${code}`);
      client.close();
    }
  });

  it('stops for good after a terminal close code (1008, 4000-4999)', async () => {
    for (const code of [1008, 4001, 4003, 4999]) {
      const { client, FakeWebSocket, states, errors } = await connected({ random: () => 0 });
      FakeWebSocket.last().drop(code, 'unauthorized');
      await advance(60_000);
      assert.equal(FakeWebSocket.instances.length, 1, `code ${code}`);
      assert.equal(client.state, 'closed');
      assert.equal(states.at(-1).terminal, true);
      assert.equal(errors.at(-1).code, 'disconnected');
      assert.equal(errors.at(-1).closeCode, code);
    }
    assert.equal(isTerminalCloseCode(1000), false);
    assert.equal(isTerminalCloseCode(3000), false);
  });

  it('rejects connect() when the first connection is refused terminally', async () => {
    const { client, FakeWebSocket } = makeClient();
    const opening = client.connect();
    FakeWebSocket.last().drop(4001, 'token expired');
    await assert.rejects(opening, { code: 'disconnected', closeCode: 4001 });
  });

  it('retries a failed first connection, then resolves connect()', async () => {
    const { client, FakeWebSocket } = makeClient({ random: () => 0 });
    const opening = client.connect();
    FakeWebSocket.last().refuse();
    assert.equal(client.state, 'reconnecting');
    await advance(0);
    FakeWebSocket.last().accept();
    await opening;
    assert.equal(FakeWebSocket.instances.length, 2);
    client.close();
  });

  it('gives up after maxReconnectAttempts consecutive failures', async () => {
    const { client, FakeWebSocket, states } = await connected({ random: () => 0, maxReconnectAttempts: 3 });
    FakeWebSocket.last().drop(1006);
    for (let i = 0; i < 3; i += 1) {
      await advance(0);
      FakeWebSocket.last().refuse();
    }
    await advance(60_000);
    assert.equal(FakeWebSocket.instances.length, 4);
    assert.equal(client.state, 'closed');
    assert.equal(states.at(-1).gaveUp, true);
  });

  it('treats a failing token provider as a failed attempt and retries', async () => {
    let calls = 0;
    const { client, FakeWebSocket, errors } = makeClient({
      random: () => 0,
      token: async () => {
        calls += 1;
        if (calls === 1) throw new Error('auth service down');
        return 'ok';
      },
    });
    client.connect().catch(() => {});
    await flush();
    assert.equal(errors[0].code, 'token_error');
    assert.equal(FakeWebSocket.instances.length, 0);
    await advance(0);
    assert.equal(FakeWebSocket.instances.length, 1);
    client.close();
  });

  it('never reconnects after close(), and drops a dial in flight', async () => {
    const { client, FakeWebSocket, states } = await connected({ random: () => 0 });
    client.close();
    assert.equal(client.state, 'closed');
    assert.equal(states.at(-1).byUser, true);
    FakeWebSocket.last().drop(1000); // the close handshake completes later
    await advance(600_000);
    assert.equal(FakeWebSocket.instances.length, 1);

    let release;
    const slow = makeClient({ token: () => new Promise((resolve) => (release = resolve)) });
    slow.client.connect().catch(() => {});
    slow.client.close();
    release('late');
    await flush();
    assert.equal(slow.FakeWebSocket.instances.length, 0);
  });

  it('close() during the backoff wait cancels the pending reconnect', async () => {
    const { client, FakeWebSocket } = await connected({ random: () => 0.5 });
    FakeWebSocket.last().drop(1006);
    client.close();
    await advance(60_000);
    assert.equal(FakeWebSocket.instances.length, 1);
  });

  it('reports state transitions in order', async () => {
    const { client, FakeWebSocket, states } = await connected({ random: () => 0 });
    FakeWebSocket.last().drop(1001);
    await advance(0);
    FakeWebSocket.last().accept();
    client.close();
    assert.deepEqual(
      states.map((s) => `${s.previous}->${s.state}`),
      ['closed->connecting', 'connecting->open', 'open->reconnecting', 'reconnecting->open', 'open->closed'],
    );
  });
});

describe('rooms', () => {
  async function joined(client, socket, roomId) {
    const pending = client.joinRoom(roomId);
    socket.ack(socket.lastSent('joinRoom'), { roomId, members: [] });
    await pending;
  }

  it('rejoins remembered rooms after a reconnect, but not rooms that were left', async () => {
    const { client, FakeWebSocket } = await connected({ random: () => 0 });
    const first = FakeWebSocket.last();
    await joined(client, first, 'a');
    await joined(client, first, 'b');
    await joined(client, first, 'c');
    client.leaveRoom('b').catch(() => {});
    assert.deepEqual(client.rooms, ['a', 'c']);
    const rejoined = [];
    client.on('rejoin', (ack) => rejoined.push(ack.roomId));

    first.drop(1006);
    await advance(0);
    const second = FakeWebSocket.last();
    second.accept();
    const frames = second.sent.filter((f) => f.action === 'joinRoom');
    assert.deepEqual(
      frames.map((f) => f.roomId),
      ['a', 'c'],
    );
    for (const f of frames) second.ack(f, { roomId: f.roomId, members: [{ userId: 'u' }] });
    await flush();
    assert.deepEqual(rejoined, ['a', 'c']);
    client.close();
  });

  it('does not remember a room whose join was refused', async () => {
    const { client, socket } = await connected();
    const pending = client.joinRoom('secret');
    socket.fail(socket.sent[0], 'forbidden');
    await assert.rejects(pending, { code: 'forbidden' });
    assert.deepEqual(client.rooms, []);
  });

  it('forgets a room whose rejoin is refused and reports it on error', async () => {
    const { client, FakeWebSocket, errors } = await connected({ random: () => 0 });
    await joined(client, FakeWebSocket.last(), 'r');
    FakeWebSocket.last().drop(1006);
    await advance(0);
    const socket = FakeWebSocket.last();
    socket.accept();
    socket.fail(socket.lastSent('joinRoom'), 'forbidden');
    await flush();
    assert.deepEqual(client.rooms, []);
    assert.equal(errors.at(-1).code, 'forbidden');
    assert.equal(errors.at(-1).roomId, 'r');
    client.close();
  });

  it('keeps a room whose rejoin was cut by another drop', async () => {
    const { client, FakeWebSocket } = await connected({ random: () => 0 });
    await joined(client, FakeWebSocket.last(), 'r');
    FakeWebSocket.last().drop(1006);
    await advance(0);
    FakeWebSocket.last().accept();
    FakeWebSocket.last().drop(1006);
    await flush();
    assert.deepEqual(client.rooms, ['r']);
    client.close();
  });
});

describe('heartbeat', () => {
  it('sends {"action":"heartbeat"} every 5 minutes by default', async () => {
    assert.equal(DEFAULTS.heartbeatIntervalMs, 300_000);
    const { client, socket } = await connected();
    await advance(299_999);
    assert.equal(socket.sent.length, 0);
    await advance(1);
    assert.equal(socket.lastSent('heartbeat').action, 'heartbeat');
    socket.ack(socket.lastSent('heartbeat'), { serverTime: 'now' });
    await advance(300_000);
    assert.equal(socket.sent.filter((f) => f.action === 'heartbeat').length, 2);
    client.close();
  });

  it('honours a configured interval and stops while disconnected', async () => {
    const { client, FakeWebSocket } = await connected({ heartbeatIntervalMs: 60_000, random: () => 0.5 });
    const socket = FakeWebSocket.last();
    await advance(60_000);
    socket.ack(socket.lastSent('heartbeat'), { serverTime: 1 });
    await advance(60_000);
    assert.equal(socket.sent.length, 2);
    socket.drop(1006);
    client.close();
    await advance(600_000);
    assert.equal(socket.sent.length, 2);
  });

  it('refuses intervals that are not well under the 10-minute idle timeout', () => {
    const { FakeWebSocket } = makeClient();
    const make = (ms) =>
      new WsClient(URL_BASE, { token: 't', WebSocket: FakeWebSocket, heartbeatIntervalMs: ms });
    assert.ok(MAX_HEARTBEAT_INTERVAL_MS <= 480_000);
    assert.throws(() => make(600_000), RangeError);
    assert.throws(() => make(MAX_HEARTBEAT_INTERVAL_MS + 1), RangeError);
    assert.throws(() => make(0), RangeError);
    assert.throws(() => make('300000'), RangeError);
    assert.doesNotThrow(() => make(MAX_HEARTBEAT_INTERVAL_MS));
  });

  it('treats an unanswered heartbeat as a dead socket and reconnects', async () => {
    const { client, FakeWebSocket, states } = await connected({
      heartbeatIntervalMs: 60_000,
      requestTimeoutMs: 5_000,
      random: () => 0,
    });
    const dead = FakeWebSocket.last();
    await advance(60_000);
    await advance(5_000);
    assert.equal(dead.closedWith?.reason, 'heartbeat timeout');
    assert.equal(states.at(-1).state, 'reconnecting');
    await advance(0);
    assert.equal(FakeWebSocket.instances.length, 2);
    client.close();
  });
});

describe('events', () => {
  it('dispatches message, presence and event frames to their listeners', async () => {
    const { client, socket } = await connected();
    const seen = [];
    for (const type of ['message', 'presence', 'event']) client.on(type, (f) => seen.push([type, f]));
    const message = {
      type: 'message',
      roomId: 'r',
      messageId: 'm',
      from: { userId: 'bob' },
      data: { x: 1 },
      sentAt: '2026-01-01T00:00:00Z',
    };
    const presence = { type: 'presence', roomId: 'r', event: 'join', userId: 'bob' };
    const event = { type: 'event', target: { roomId: 'r' }, event: 'tick', data: 42 };
    socket.deliver(message);
    socket.deliver(presence);
    socket.deliver(event);
    socket.deliver({ type: 'future-thing' });
    assert.deepEqual(seen, [
      ['message', message],
      ['presence', presence],
      ['event', event],
    ]);
    client.close();
  });

  it('off() and the returned unsubscribe stop delivery', async () => {
    const { client, socket } = await connected();
    let a = 0;
    let b = 0;
    const fa = () => (a += 1);
    client.on('presence', fa);
    const unsubscribe = client.on('presence', () => (b += 1));
    socket.deliver({ type: 'presence', roomId: 'r', event: 'leave', userId: 'x' });
    client.off('presence', fa);
    unsubscribe();
    socket.deliver({ type: 'presence', roomId: 'r', event: 'leave', userId: 'x' });
    assert.deepEqual([a, b], [1, 1]);
    client.close();
  });

  it('rejects unknown event types when subscribing', () => {
    const { client } = makeClient();
    assert.throws(() => client.on('mesage', () => {}), TypeError);
  });

  it('reports unmatched error frames and non-JSON frames on error', async () => {
    const { client, socket, errors } = await connected();
    socket.deliver({ type: 'error', action: null, requestId: null, code: 'invalid_json', message: 'bad' });
    socket.deliver('not json');
    assert.deepEqual(
      errors.map((e) => e.code),
      ['invalid_json', 'invalid_frame'],
    );
    client.close();
  });

  it('survives a throwing listener and reports its error', async () => {
    const { client, socket, errors } = await connected();
    let after = 0;
    client.on('message', () => {
      throw new Error('listener bug');
    });
    client.on('message', () => (after += 1));
    socket.deliver({
      type: 'message',
      roomId: 'r',
      messageId: 'm',
      from: { userId: 'u' },
      data: null,
      sentAt: '',
    });
    assert.equal(after, 1);
    assert.equal(errors.at(-1).message, 'listener bug');
    client.close();
  });
});
