// Request/response correlation, timeouts and error codes (protocol v1 ack and error frames).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';

import { ClientError, DEFAULTS, PROTOCOL_ERROR_CODES, WsClient } from '../wsclient.js';
import { advance, connected, flush, makeClient, URL_BASE, useFakeTimers } from '../testkit/helpers.js';

beforeEach(useFakeTimers);
afterEach(() => mock.timers.reset());

describe('connect', () => {
  it('puts the token in the query string and resolves once open', async () => {
    const { client, FakeWebSocket, states } = makeClient({ token: 'a b&c=d' });
    const opening = client.connect();
    assert.equal(client.state, 'connecting');
    await flush();
    const socket = FakeWebSocket.last();
    const url = new URL(socket.url);
    assert.equal(`${url.origin}${url.pathname}`, URL_BASE);
    assert.equal(url.searchParams.get('token'), 'a b&c=d');
    socket.accept();
    await opening;
    assert.equal(client.state, 'open');
    assert.deepEqual(
      states.map((s) => s.state),
      ['connecting', 'open'],
    );
  });

  it('awaits an async token function', async () => {
    const { client, FakeWebSocket } = makeClient({ token: async () => 'fresh-1' });
    client.connect().catch(() => {});
    await flush();
    assert.equal(new URL(FakeWebSocket.last().url).searchParams.get('token'), 'fresh-1');
  });

  it('resolves a relative path against the page location (browsers)', async () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'location');
    Object.defineProperty(globalThis, 'location', {
      value: { href: 'https://chat.example.com/app/?room=x' },
      configurable: true,
    });
    try {
      const { FakeWebSocket } = makeClient();
      const client = new WsClient('/dev', { token: 'tok', WebSocket: FakeWebSocket });
      client.connect().catch(() => {});
      assert.equal(FakeWebSocket.last().url, 'wss://chat.example.com/dev?token=tok');
      client.close();
    } finally {
      if (saved) Object.defineProperty(globalThis, 'location', saved);
      else delete globalThis.location;
    }
  });

  it('refuses URLs that can never work, and a socket constructor that throws', async () => {
    const { FakeWebSocket } = makeClient();
    for (const url of ['http://host/dev', 'not a url', '/dev']) {
      assert.throws(() => new WsClient(url, { token: 't', WebSocket: FakeWebSocket }), TypeError, url);
    }
    class Throwing {
      constructor() {
        throw new SyntaxError('bad');
      }
    }
    const client = new WsClient(URL_BASE, { token: 't', WebSocket: Throwing });
    await assert.rejects(client.connect(), { code: 'invalid_url' });
    assert.equal(client.state, 'closed');
  });

  it('validates the options up front', () => {
    const FakeWebSocket = makeClient().FakeWebSocket;
    assert.throws(() => new WsClient(URL_BASE, { WebSocket: FakeWebSocket }), TypeError);
    assert.throws(() => new WsClient(URL_BASE, { token: 't', WebSocket: undefined }), TypeError);
    assert.throws(
      () =>
        new WsClient(URL_BASE, {
          token: 't',
          WebSocket: FakeWebSocket,
          backoffBaseMs: 1000,
          backoffCapMs: 10,
        }),
      RangeError,
    );
  });
});

describe('request', () => {
  it('correlates replies by requestId even when they arrive out of order', async () => {
    const { client, socket } = await connected();
    const join = client.joinRoom('lobby');
    const send = client.sendMessage('lobby', { text: 'hi' });
    const [joinFrame, sendFrame] = socket.sent;
    assert.equal(joinFrame.action, 'joinRoom');
    assert.equal(joinFrame.roomId, 'lobby');
    assert.deepEqual(sendFrame.data, { text: 'hi' });
    assert.notEqual(joinFrame.requestId, sendFrame.requestId);

    socket.ack(sendFrame, { roomId: 'lobby', messageId: 'm-1' });
    socket.ack(joinFrame, { roomId: 'lobby', members: [{ userId: 'alice' }] });
    assert.equal((await send).messageId, 'm-1');
    assert.deepEqual((await join).members, [{ userId: 'alice' }]);
  });

  it('uses a unique requestId per request', async () => {
    const { client, socket } = await connected();
    for (let i = 0; i < 50; i += 1) client.heartbeat().catch(() => {});
    const ids = new Set(socket.sent.map((f) => f.requestId));
    assert.equal(ids.size, 50);
    client.close();
  });

  it('sends getPresence without roomId for the whole tenant', async () => {
    const { client, socket } = await connected();
    client.getPresence().catch(() => {});
    client.getPresence('r1').catch(() => {});
    assert.equal('roomId' in socket.sent[0], false);
    assert.equal(socket.sent[1].roomId, 'r1');
    client.close();
  });

  it('does not let fields override action or requestId', async () => {
    const { client, socket } = await connected();
    client.request('heartbeat', { action: 'evil', requestId: 'x' }).catch(() => {});
    assert.equal(socket.sent[0].action, 'heartbeat');
    assert.notEqual(socket.sent[0].requestId, 'x');
    client.close();
  });

  for (const code of PROTOCOL_ERROR_CODES) {
    it(`rejects with code ${code} from an error frame`, async () => {
      const { client, socket } = await connected();
      const pending = client.sendMessage('lobby', 1);
      socket.fail(socket.sent[0], code, 'nope');
      await assert.rejects(pending, (err) => {
        assert.ok(err instanceof ClientError);
        assert.equal(err.code, code);
        assert.equal(err.message, 'nope');
        assert.equal(err.frame.requestId, socket.sent[0].requestId);
        return true;
      });
    });
  }

  it('rejects with timeout after requestTimeoutMs and ignores a late ack', async () => {
    const { client, socket, errors } = await connected({ requestTimeoutMs: 2000 });
    const pending = client.heartbeat();
    let settled = false;
    pending.catch(() => {}).finally(() => (settled = true));
    mock.timers.tick(1999);
    await flush();
    assert.equal(settled, false);
    mock.timers.tick(1);
    await assert.rejects(pending, { code: 'timeout' });
    socket.ack(socket.sent[0], { serverTime: 1 });
    assert.equal(errors.length, 0);
  });

  it('honours a per-request timeout', async () => {
    const { client } = await connected();
    const pending = client.request('heartbeat', {}, { timeoutMs: 50 });
    mock.timers.tick(50);
    await assert.rejects(pending, { code: 'timeout' });
  });

  it('rejects pending requests with disconnected when the socket drops', async () => {
    const { client, socket } = await connected();
    const a = client.heartbeat();
    const b = client.joinRoom('x');
    socket.drop(1006);
    await assert.rejects(a, { code: 'disconnected' });
    await assert.rejects(b, { code: 'disconnected' });
    assert.deepEqual(client.rooms, []);
    client.close();
  });

  it('rejects data that cannot be serialised, without sending', async () => {
    const { client, socket } = await connected();
    await assert.rejects(client.sendMessage('lobby', { n: 1n }), { code: 'invalid_request' });
    assert.equal(socket.sent.length, 0);
    client.close();
  });

  it('rejects at once with disconnected when not connected', async () => {
    const { client } = makeClient();
    await assert.rejects(client.heartbeat(), { code: 'disconnected' });
  });

  it('refuses frames over maxMessageBytes locally with payload_too_large', async () => {
    const { client, socket } = await connected();
    const big = 'é'.repeat(DEFAULTS.maxMessageBytes / 2); // 2 UTF-8 bytes each
    await assert.rejects(client.sendMessage('lobby', big), { code: 'payload_too_large' });
    assert.equal(socket.sent.length, 0);
  });

  it('close() rejects pending requests and stops their timers', async () => {
    const { client, socket } = await connected();
    const pending = client.heartbeat();
    client.close();
    await assert.rejects(pending, { code: 'disconnected' });
    assert.deepEqual(socket.closedWith, { code: 1000, reason: 'client closed' });
  });
});

describe('rate_limited (v1.1: may carry retryAfterMs)', () => {
  /** Refuse the last sendMessage the client sent with rate_limited. */
  function refuse(socket, retryAfterMs) {
    const frame = socket.lastSent('sendMessage');
    socket.deliver({
      type: 'error',
      action: 'sendMessage',
      requestId: frame.requestId,
      code: 'rate_limited',
      message: 'too many messages',
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  const sentMessages = (socket) => socket.sent.filter((f) => f.action === 'sendMessage');

  it('rejects with code rate_limited and the retryAfterMs the server gave', async () => {
    const { client, socket } = await connected();
    const sending = client.sendMessage('lobby', { n: 1 });
    refuse(socket, 2000);
    await assert.rejects(sending, { code: 'rate_limited', retryAfterMs: 2000 });
    await advance(60_000);
    assert.equal(sentMessages(socket).length, 1, 'never resent by itself');
    client.close();
  });

  it('backs off: holds the next requests of that action until retryAfterMs has passed', async () => {
    const { client, socket } = await connected();
    const refused = client.sendMessage('lobby', { n: 1 });
    refuse(socket, 2000);
    await assert.rejects(refused, { code: 'rate_limited', retryAfterMs: 2000 });
    const second = client.sendMessage('lobby', { n: 2 });
    const third = client.sendMessage('lobby', { n: 3 });
    const beat = client.heartbeat(); // other actions are not held
    socket.ack(socket.lastSent('heartbeat'), { serverTime: 'now' });
    await beat;
    await advance(1999);
    assert.equal(sentMessages(socket).length, 1, 'held while the server asked to wait');
    await advance(1);
    assert.deepEqual(
      sentMessages(socket).map((f) => f.data),
      [{ n: 1 }, { n: 2 }, { n: 3 }],
    );
    for (const frame of sentMessages(socket).slice(1)) socket.ack(frame, { messageId: frame.requestId });
    await Promise.all([second, third]);
    client.sendMessage('lobby', { n: 4 }).catch(() => {});
    assert.equal(sentMessages(socket).length, 4, 'no hold once the time has passed');
    client.close();
  });

  it('a longer refusal extends the hold; the timeout of a held request counts from its sending', async () => {
    const { client, socket } = await connected({ requestTimeoutMs: 1000 });
    const first = client.sendMessage('lobby', 1);
    refuse(socket, 500);
    await assert.rejects(first, { code: 'rate_limited' });
    const second = client.sendMessage('lobby', 2);
    socket.deliver({
      type: 'error',
      action: 'sendMessage',
      requestId: null,
      code: 'rate_limited',
      retryAfterMs: 3000,
    });
    await advance(2999);
    assert.equal(sentMessages(socket).length, 1);
    await advance(1);
    assert.equal(sentMessages(socket).length, 2);
    let settled = false;
    second.catch(() => {}).finally(() => (settled = true));
    await advance(999);
    assert.equal(settled, false, 'the hold is not counted against the timeout');
    await advance(1);
    await assert.rejects(second, { code: 'timeout' });
    client.close();
  });

  it('close() during a hold rejects the held requests and sends nothing later', async () => {
    const { client, socket } = await connected();
    const first = client.sendMessage('lobby', 1);
    refuse(socket, 5000);
    await assert.rejects(first, { code: 'rate_limited' });
    const held = client.sendMessage('lobby', 2);
    client.close();
    await assert.rejects(held, { code: 'disconnected' });
    await advance(5000);
    assert.equal(sentMessages(socket).length, 1);
  });

  it('holds nothing without a retryAfterMs', async () => {
    const { client, socket } = await connected();
    const first = client.sendMessage('lobby', 1);
    refuse(socket, undefined);
    await assert.rejects(first, (err) => err.code === 'rate_limited' && err.retryAfterMs === undefined);
    client.sendMessage('lobby', 2).catch(() => {});
    assert.equal(sentMessages(socket).length, 2);
    client.close();
  });

  it('surfaces an unmatched rate_limited frame on error, retryAfterMs absent when not given', async () => {
    const { client, socket, errors } = await connected();
    socket.deliver({
      type: 'error',
      action: null,
      requestId: null,
      code: 'rate_limited',
      message: 'slow down',
    });
    assert.equal(errors.at(-1).code, 'rate_limited');
    assert.equal(errors.at(-1).retryAfterMs, undefined);
    client.close();
  });
});
