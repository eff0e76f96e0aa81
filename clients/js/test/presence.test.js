// Presence (protocol v1.1): both forms of the presence frame (a v1 transition, a large room's
// coalesced change), member counts, and paging through the users online with a cursor.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';

import { presenceChanges } from '../wsclient.js';
import { connected, flush, servePresence, useFakeTimers } from '../testkit/helpers.js';

beforeEach(useFakeTimers);
afterEach(() => mock.timers.reset());

const ROOM = 'hall';
const users = (n) => Array.from({ length: n }, (_, i) => `u${String(i).padStart(3, '0')}`);

describe('presence frames', () => {
  it('reach presence listeners as the server sent them, in both forms', async () => {
    const { client, socket, errors } = await connected();
    const seen = [];
    client.on('presence', (p) => seen.push(p));
    const transition = { type: 'presence', roomId: ROOM, event: 'join', userId: 'bob' };
    const coalesced = { type: 'presence', roomId: ROOM, joined: ['carol', 'dave'], left: ['bob'] };
    socket.deliver(transition);
    socket.deliver(coalesced);
    socket.deliver(coalesced); // not de-duplicated: applying it twice as sets changes nothing
    assert.deepEqual(seen, [transition, coalesced, coalesced]);
    assert.deepEqual(errors, []);
    client.close();
  });

  it('presenceChanges gives one shape for both: add joined, remove left', () => {
    const frame = (fields) => ({ type: 'presence', roomId: ROOM, ...fields });
    assert.deepEqual(presenceChanges(frame({ event: 'join', userId: 'bob' })), {
      roomId: ROOM,
      joined: ['bob'],
      left: [],
    });
    assert.deepEqual(presenceChanges(frame({ event: 'leave', userId: 'bob' })), {
      roomId: ROOM,
      joined: [],
      left: ['bob'],
    });
    assert.deepEqual(presenceChanges(frame({ joined: ['a', 'b'], left: ['c'] })), {
      roomId: ROOM,
      joined: ['a', 'b'],
      left: ['c'],
    });
  });

  it('presenceChanges ignores what is not a user id, and a list that is missing', () => {
    assert.deepEqual(presenceChanges({ type: 'presence', roomId: ROOM, joined: ['a', 7, null] }), {
      roomId: ROOM,
      joined: ['a'],
      left: [],
    });
    assert.deepEqual(presenceChanges({ type: 'presence', roomId: ROOM, event: 'leave' }), {
      roomId: ROOM,
      joined: [],
      left: [],
    });
    assert.deepEqual(presenceChanges({ type: 'presence', roomId: ROOM, joined: 'a', left: {} }), {
      roomId: ROOM,
      joined: [],
      left: [],
    });
  });

  it('a set kept with presenceChanges ends the same whichever form the changes came in', () => {
    const apply = (set, frame) => {
      const { joined, left } = presenceChanges(frame);
      for (const user of joined) set.add(user);
      for (const user of left) set.delete(user);
      return set;
    };
    const start = ['alice', 'bob', 'carol'];
    const oneByOne = [
      { event: 'join', userId: 'dave' },
      { event: 'leave', userId: 'bob' },
      { event: 'join', userId: 'erin' },
    ].reduce((set, f) => apply(set, { type: 'presence', roomId: ROOM, ...f }), new Set(start));
    const coalesced = apply(new Set(start), {
      type: 'presence',
      roomId: ROOM,
      joined: ['dave', 'erin'],
      left: ['bob'],
    });
    assert.deepEqual([...oneByOne].sort(), ['alice', 'carol', 'dave', 'erin']);
    assert.deepEqual([...coalesced].sort(), [...oneByOne].sort());
  });
});

describe('joinRoom and getPresence fields', () => {
  it('joinRoom sends limit only when given; the ack keeps memberCount and nextCursor', async () => {
    const { client, socket } = await connected();
    const first = client.joinRoom('a');
    const second = client.joinRoom('b', { limit: 5 });
    const [a, b] = socket.sent;
    assert.deepEqual(Object.keys(a).sort(), ['action', 'requestId', 'roomId']);
    assert.equal(b.limit, 5);
    socket.ack(a, { roomId: 'a', members: [{ userId: 'alice' }], memberCount: 1, latestSeq: 0 });
    const page = { members: [{ userId: 'u1' }], memberCount: 9, nextCursor: 'u1', truncated: true };
    socket.ack(b, { roomId: 'b', ...page, latestSeq: 0 });
    assert.equal((await first).memberCount, 1);
    const ack = await second;
    assert.deepEqual([ack.memberCount, ack.nextCursor, ack.truncated], [9, 'u1', true]);
    client.close();
  });

  it('getPresence sends roomId, cursor and limit only when given', async () => {
    const { client, socket } = await connected();
    const calls = [
      [[], {}],
      [[null, { limit: 3 }], { limit: 3 }],
      [[ROOM], { roomId: ROOM }],
      [[ROOM, { cursor: 'u7', limit: 2 }], { roomId: ROOM, cursor: 'u7', limit: 2 }],
      [[ROOM, { cursor: undefined }], { roomId: ROOM }],
    ];
    for (const [args] of calls) client.getPresence(...args).catch(() => {});
    assert.deepEqual(
      socket.sent.map(({ action, requestId, ...fields }) => fields),
      calls.map(([, fields]) => fields),
    );
    client.close();
  });
});

describe('paging through the users online', () => {
  it('presencePages follows nextCursor to the last page, in user id order', async () => {
    const { client, socket } = await connected();
    const online = new Map([[ROOM, users(7)]]);
    const received = servePresence(socket, online);
    const pages = [];
    for await (const page of client.presencePages(ROOM, { limit: 3 })) pages.push(page);
    assert.deepEqual(
      pages.map((p) => p.users.map((u) => u.userId)),
      [users(7).slice(0, 3), users(7).slice(3, 6), users(7).slice(6)],
    );
    assert.deepEqual(
      received.map((f) => f.cursor),
      [undefined, 'u002', 'u005'],
    );
    assert.ok(received.every((f) => f.limit === 3 && f.roomId === ROOM));
    assert.deepEqual(
      pages.map((p) => [p.memberCount, p.nextCursor]),
      [
        [7, 'u002'],
        [7, 'u005'],
        [7, undefined],
      ],
    );
    client.close();
  });

  it('presenceAll gathers every page: the rest of a join ack from its nextCursor', async () => {
    const { client, socket } = await connected();
    const online = new Map([[ROOM, users(250)]]);
    servePresence(socket, online);
    const joining = client.joinRoom(ROOM);
    socket.ack(socket.lastSent('joinRoom'), {
      roomId: ROOM,
      members: users(100).map((userId) => ({ userId })),
      memberCount: 250,
      nextCursor: 'u099',
      truncated: true,
      latestSeq: 0,
    });
    const ack = await joining;
    const rest = await client.presenceAll(ROOM, { cursor: ack.nextCursor });
    assert.deepEqual(rest, { userIds: users(250).slice(100), memberCount: 250 });
    assert.deepEqual(await client.presenceAll(ROOM), { userIds: users(250), memberCount: 250 });
    client.close();
  });

  it('presenceAll of the whole tenant has no memberCount; one page from a v1 server', async () => {
    const { client, socket } = await connected();
    servePresence(socket, new Map([[null, ['bob', 'alice']]]));
    assert.deepEqual(await client.presenceAll(), { userIds: ['alice', 'bob'] });
    assert.equal(socket.lastSent('getPresence').roomId, undefined);
    client.close();

    const v1 = await connected();
    const all = v1.client.presenceAll(ROOM);
    await flush();
    // v1 cut the list at 500 and said so with truncated alone: there is no next page to ask for.
    const cut = { roomId: ROOM, users: [{ userId: 'a' }], truncated: true };
    v1.socket.ack(v1.socket.lastSent('getPresence'), cut);
    assert.deepEqual(await all, { userIds: ['a'] });
    assert.equal(v1.socket.sent.length, 1);
    v1.client.close();
  });

  it('each page is read as the room is then: who comes after the cursor is listed, before it is not', async () => {
    const { client, socket } = await connected();
    const online = new Map([[ROOM, ['b', 'd', 'f']]]);
    const received = servePresence(socket, online);
    const pages = client.presencePages(ROOM, { limit: 2 });
    const first = await pages.next();
    assert.deepEqual(first.value.users, [{ userId: 'b' }, { userId: 'd' }]);
    online.set(ROOM, ['a', 'd', 'e', 'f']); // a (before the cursor) and e joined, b left
    const second = await pages.next();
    // No a: it came before the cursor (the presence frames tell of it).
    assert.deepEqual(second.value.users, [{ userId: 'e' }, { userId: 'f' }]);
    assert.equal(second.value.memberCount, 4);
    assert.equal((await pages.next()).done, true);
    assert.equal(received.length, 2);
    client.close();
  });

  it('a failed page ends the paging with its error; a cursor that does not move is invalid_frame', async () => {
    const { client, socket } = await connected();
    const all = client.presenceAll(ROOM);
    await flush();
    const first = { roomId: ROOM, users: [{ userId: 'a' }], nextCursor: 'a' };
    socket.ack(socket.lastSent('getPresence'), first);
    await flush();
    socket.fail(socket.lastSent('getPresence'), 'rate_limited');
    await assert.rejects(all, { code: 'rate_limited' });

    const looping = client.presenceAll(ROOM, { cursor: 'a' });
    await flush();
    socket.ack(socket.lastSent('getPresence'), { roomId: ROOM, users: [], nextCursor: 'a' });
    await assert.rejects(looping, { code: 'invalid_frame' });
    assert.equal(socket.sent.filter((f) => f.action === 'getPresence').length, 3);
    client.close();
  });

  it('stops when the connection drops, rejecting with disconnected', async () => {
    const { client, socket } = await connected();
    const all = client.presenceAll(ROOM);
    await flush();
    socket.drop(1006);
    await assert.rejects(all, { code: 'disconnected' });
    client.close();
  });
});
