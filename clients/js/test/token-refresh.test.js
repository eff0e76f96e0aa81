// In-band token refresh (protocol v1.1 `refreshToken`): planned from the JWT's exp, and the
// fallback to the v1 reconnect on any failure.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';

import { decodeJwtPayload, tokenRefreshTime } from '../wsclient.js';
import { advance, connected, flush, makeJwt } from '../testkit/helpers.js';

const NOW = Date.UTC(2026, 10, 28, 5, 0, 0);
const S = 1000;

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: NOW }));
afterEach(() => mock.timers.reset());

/** A provider handing out tokens valid `lifetimeS` seconds from the (fake) now, and its calls. */
function provider(lifetimeS) {
  const issued = [];
  const next = () => {
    const iat = Math.floor(Date.now() / S);
    const token = makeJwt({ iat, exp: iat + lifetimeS, n: issued.length + 1 });
    issued.push(token);
    return token;
  };
  return { issued, token: async () => next() };
}

/** A connected client with a token provider, recording tokenRefreshed events. */
async function withProvider(lifetimeS, options = {}) {
  const tokens = provider(lifetimeS);
  // Heartbeats at the 8-minute maximum stay out of the windows these tests look at.
  const made = await connected({
    token: tokens.token,
    heartbeatIntervalMs: 480_000,
    random: () => 0,
    ...options,
  });
  const refreshed = [];
  made.client.on('tokenRefreshed', (info) => refreshed.push(info));
  return { ...made, tokens, refreshed };
}

const refreshes = (socket) => socket.sent.filter((f) => f.action === 'refreshToken');

describe('tokenRefreshTime', () => {
  it('is 60 s before exp or at 80% of the lifetime, whichever is sooner', () => {
    assert.equal(tokenRefreshTime(NOW + 3600 * S, NOW), NOW + 2880 * S); // 80% sooner
    assert.equal(tokenRefreshTime(NOW + 400 * S, NOW), NOW + 320 * S);
    assert.equal(tokenRefreshTime(NOW + 200 * S, NOW), NOW + 140 * S); // 60 s before sooner
    assert.equal(tokenRefreshTime(NOW + 300 * S, NOW), NOW + 240 * S); // both the same
  });

  it('never comes before half the lifetime (short-lived tokens would refresh in a loop)', () => {
    assert.equal(tokenRefreshTime(NOW + 60 * S, NOW), NOW + 30 * S);
    assert.equal(tokenRefreshTime(NOW + 100 * S, NOW), NOW + 50 * S);
  });
});

describe('decodeJwtPayload', () => {
  it('reads the claims without verifying, and returns null for anything else', () => {
    assert.deepEqual(decodeJwtPayload(makeJwt({ exp: 5, name: 'Zoë' })), {
      sub: 'alice',
      tenant: 'acme',
      exp: 5,
      name: 'Zoë',
    });
    for (const token of ['opaque', 'a.b', 'a.!!!.c', `x.${Buffer.from('[1]').toString('base64url')}.y`, '']) {
      assert.equal(decodeJwtPayload(token), null, token);
    }
  });
});

describe('refreshToken', () => {
  it('sends a fresh token before exp (80% of a 400 s lifetime), then plans the next one', async () => {
    const { client, socket, tokens, refreshed, FakeWebSocket } = await withProvider(400);
    assert.equal(tokens.issued.length, 1);
    await advance(320 * S - 1);
    assert.equal(refreshes(socket).length, 0);
    await advance(1);
    const frame = refreshes(socket)[0];
    assert.equal(tokens.issued.length, 2);
    assert.equal(frame.token, tokens.issued[1]);
    const expiresAt = new Date(Date.now() + 400 * S).toISOString();
    socket.ack(frame, { expiresAt });
    await flush();
    assert.deepEqual(refreshed, [{ type: 'tokenRefreshed', expiresAt }]); // type: the event's name
    // The next refresh comes 320 s after this one, on the same connection.
    await advance(320 * S - 1);
    assert.equal(refreshes(socket).length, 1);
    await advance(1);
    assert.equal(refreshes(socket).length, 2);
    assert.equal(FakeWebSocket.instances.length, 1, 'no reconnect');
    client.close();
  });

  it('refreshes 60 s before exp when that is sooner (200 s lifetime: at 140 s)', async () => {
    const { client, socket } = await withProvider(200);
    await advance(140 * S - 1);
    assert.equal(refreshes(socket).length, 0);
    await advance(1);
    assert.equal(refreshes(socket).length, 1);
    client.close();
  });

  it('on a forbidden reply, reports it and falls back: the server closes at expiry, the client reconnects', async () => {
    const { client, socket, tokens, errors, refreshed, FakeWebSocket } = await withProvider(200);
    await advance(140 * S);
    socket.fail(refreshes(socket)[0], 'forbidden', 'token refused');
    await flush();
    assert.equal(errors.at(-1).code, 'forbidden');
    assert.deepEqual(refreshed, []);
    await advance(59 * S);
    assert.equal(refreshes(socket).length, 1, 'no second try on this connection');
    socket.drop(1000, 'token expired'); // the server closes the expired connection
    await advance(0);
    assert.equal(FakeWebSocket.instances.length, 2);
    const url = new URL(FakeWebSocket.last().url);
    assert.equal(url.searchParams.get('token'), tokens.issued.at(-1));
    assert.equal(tokens.issued.length, 3, 'a fresh token for the reconnect');
    const next = FakeWebSocket.last();
    next.accept();
    await advance(140 * S);
    assert.equal(refreshes(next).length, 1, 'the new connection refreshes again');
    client.close();
  });

  it('stops trying for good, silently, when the server does not know refreshToken (v1)', async () => {
    const { client, socket, FakeWebSocket, errors } = await withProvider(200);
    await advance(140 * S);
    socket.fail(refreshes(socket)[0], 'unknown_action');
    await flush();
    assert.deepEqual(errors, []);
    socket.drop(1000);
    await advance(0);
    const next = FakeWebSocket.last();
    next.accept();
    await advance(200 * S);
    assert.equal(refreshes(next).length, 0);
    client.close();
  });

  it('does not send a token that expires no later than the current one, and falls back', async () => {
    const same = makeJwt({ iat: NOW / S, exp: NOW / S + 200 });
    let calls = 0;
    const { client, socket, FakeWebSocket, errors } = await connected({
      token: async () => {
        calls += 1;
        return same; // a provider that caches its token until it expires
      },
      heartbeatIntervalMs: 480_000,
      random: () => 0,
    });
    await advance(140 * S);
    assert.equal(calls, 2);
    assert.equal(refreshes(socket).length, 0);
    await advance(59 * S);
    assert.equal(calls, 2, 'no retry on this connection');
    assert.deepEqual(errors, []);
    socket.drop(1000, 'token expired');
    await advance(0);
    assert.equal(FakeWebSocket.instances.length, 2);
    assert.equal(calls, 3);
    client.close();
  });

  it('never refreshes a string token, a token without exp, or one that is not a JWT', async () => {
    for (const token of [makeJwt({ exp: NOW / S + 200 }), async () => makeJwt({}), async () => 'opaque']) {
      const { client, socket } = await connected({ token, heartbeatIntervalMs: 480_000 });
      await advance(479 * S);
      assert.equal(refreshes(socket).length, 0);
      client.close();
    }
  });

  it('a failing provider is reported as token_error and leaves the v1 path', async () => {
    let calls = 0;
    const { client, socket, errors } = await connected({
      token: async () => {
        calls += 1;
        if (calls > 1) throw new Error('auth service down');
        return makeJwt({ iat: NOW / S, exp: NOW / S + 200 });
      },
      heartbeatIntervalMs: 480_000,
    });
    await advance(140 * S);
    assert.equal(errors.at(-1).code, 'token_error');
    assert.equal(errors.at(-1).message.includes('auth service down'), false, 'only the error name');
    await advance(59 * S);
    assert.equal(calls, 2);
    assert.equal(refreshes(socket).length, 0);
    client.close();
  });

  it('a drop cancels the planned refresh; close() too', async () => {
    const { client, socket, FakeWebSocket } = await withProvider(200);
    socket.drop(1006);
    await advance(140 * S);
    assert.equal(refreshes(socket).length, 0);
    assert.equal(FakeWebSocket.instances.length, 2);
    client.close();
    await advance(200 * S);
    assert.equal(refreshes(FakeWebSocket.last()).length, 0);
  });
});
