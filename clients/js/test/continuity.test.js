// Delivery continuity (protocol v1.1): per-room seq order, de-duplication, gap fill and resume
// from getHistory, skipped seqs, discontinuities, and frames without seq passing through.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';

import { DEFAULTS, HISTORY_PAGE_LIMIT, HISTORY_RETRY } from '../wsclient.js';
import { advance, answerHistory, connected, flush, roomMessage, useFakeTimers } from '../testkit/helpers.js';

beforeEach(useFakeTimers);
afterEach(() => mock.timers.reset());

const ROOM = 'lobby';
const msg = (seq, fields) => roomMessage(ROOM, seq, fields);
/** The discontinuity payload: seqs fromSeq..toSeq of ROOM will never be delivered. */
const gap = (fromSeq, toSeq) => ({ type: 'discontinuity', roomId: ROOM, fromSeq, toSeq });

/** A connected client that joined ROOM with this latestSeq, recording what reaches the application. */
async function inRoom(latestSeq, options = {}) {
  const made = await connected({ random: () => 0, ...options });
  const { client, socket } = made;
  const delivered = [];
  const gaps = [];
  client.on('message', (m) => delivered.push(m.seq ?? m.messageId));
  client.on('event', (e) => delivered.push(e.seq ?? e.messageId));
  client.on('discontinuity', (d) => gaps.push(d));
  const joining = client.joinRoom(ROOM);
  const ack =
    latestSeq === undefined ? { roomId: ROOM, members: [] } : { roomId: ROOM, members: [], latestSeq };
  socket.ack(socket.lastSent('joinRoom'), ack);
  await joining;
  return { ...made, delivered, gaps };
}

const historyRequests = (socket) => socket.sent.filter((f) => f.action === 'getHistory');

/** Drop the connection and reconnect; returns the new socket, rooms not yet rejoined. */
async function reconnect(FakeWebSocket) {
  FakeWebSocket.last().drop(1006);
  await advance(0);
  const socket = FakeWebSocket.last();
  socket.accept();
  return socket;
}

describe('live frames in seq order', () => {
  it('counts from the joinRoom latestSeq: the next seq is delivered at once, older ones dropped', async () => {
    const { client, socket, delivered } = await inRoom(5);
    socket.deliver(msg(5));
    socket.deliver(msg(6));
    socket.deliver(msg(7));
    assert.deepEqual(delivered, [6, 7]);
    assert.equal(historyRequests(socket).length, 0);
    client.close();
  });

  it('holds numbered frames that arrive before the first join ack; the ack decides which are new', async () => {
    const { client, socket } = await connected();
    const delivered = [];
    client.on('message', (m) => delivered.push(m.seq));
    const joining = client.joinRoom(ROOM);
    socket.deliver(msg(6)); // fanned out to this connection before the ack reached it
    socket.deliver(msg(5)); // sent before the join: history, not a live message
    assert.deepEqual(delivered, []);
    socket.ack(socket.lastSent('joinRoom'), { roomId: ROOM, members: [], latestSeq: 5 });
    await joining;
    assert.deepEqual(delivered, [6]);
    await advance(60_000);
    assert.equal(historyRequests(socket).length, 0);
    client.close();
  });

  it('hands the held frames over in order when the first join fails', async () => {
    const { client, socket } = await connected();
    const delivered = [];
    client.on('message', (m) => delivered.push(m.seq));
    const joining = client.joinRoom(ROOM);
    socket.deliver(msg(9));
    socket.deliver(msg(8));
    socket.fail(socket.lastSent('joinRoom'), 'forbidden');
    await assert.rejects(joining, { code: 'forbidden' });
    assert.deepEqual(delivered, [8, 9]);
    socket.deliver(msg(3)); // the room is no longer counted: as it comes
    assert.deepEqual(delivered, [8, 9, 3]);
    client.close();
  });

  it('a second join of a counted room changes nothing', async () => {
    const { client, socket, delivered } = await inRoom(5);
    socket.deliver(msg(6));
    const again = client.joinRoom(ROOM);
    socket.ack(socket.lastSent('joinRoom'), { roomId: ROOM, members: [], latestSeq: 9 });
    await again;
    socket.deliver(msg(6));
    socket.deliver(msg(7));
    assert.deepEqual(delivered, [6, 7]);
    assert.equal(historyRequests(socket).length, 0);
    client.close();
  });

  it('reorders out-of-order frames that complete within the wait, without asking history', async () => {
    const { client, socket, delivered } = await inRoom(5);
    socket.deliver(msg(8));
    socket.deliver(msg(6));
    assert.deepEqual(delivered, [6]);
    await advance(DEFAULTS.gapWaitMs - 1);
    socket.deliver(msg(7));
    assert.deepEqual(delivered, [6, 7, 8]);
    await advance(60_000);
    assert.equal(historyRequests(socket).length, 0);
    client.close();
  });

  it('drops duplicates by seq and by messageId', async () => {
    const { client, socket, delivered } = await inRoom(0);
    socket.deliver(msg(1));
    socket.deliver(msg(1)); // a retried fan-out: same seq
    socket.deliver(msg(2));
    socket.deliver(msg(1, { messageId: 'other' })); // seq already delivered
    socket.deliver(msg(3, { messageId: `${ROOM}-m2` })); // messageId already delivered: counted, not shown
    socket.deliver(msg(4));
    assert.deepEqual(delivered, [1, 2, 4]);
    // Frames without seq are de-duplicated by messageId too.
    const ephemeral = { type: 'message', roomId: ROOM, messageId: 'e1', from: { userId: 'b' }, data: 0 };
    socket.deliver(ephemeral);
    socket.deliver(ephemeral);
    assert.deepEqual(delivered, [1, 2, 4, 'e1']);
    client.close();
  });

  it('counts its own acknowledged sends as delivered, so the next frame does not wait', async () => {
    const { client, socket, delivered } = await inRoom(5);
    const sending = client.sendMessage(ROOM, { text: 'mine' });
    socket.deliver(msg(7)); // another member's message overtakes the ack
    socket.ack(socket.lastSent('sendMessage'), { roomId: ROOM, messageId: 'own-6', seq: 6 });
    assert.equal((await sending).seq, 6);
    assert.deepEqual(delivered, [7]);
    await advance(60_000);
    assert.equal(historyRequests(socket).length, 0);
    client.close();
  });

  it('numbers room-targeted events in the same sequence as messages', async () => {
    const { client, socket, delivered } = await inRoom(1);
    const event = (seq) => ({
      type: 'event',
      target: { roomId: ROOM },
      event: 'price',
      messageId: `ev${seq}`,
      seq,
      data: seq,
    });
    socket.deliver(event(3));
    socket.deliver(msg(2));
    socket.deliver(event(3));
    assert.deepEqual(delivered, [2, 3]);
    client.close();
  });
});

describe('gap fill from history', () => {
  it('waits gapWaitMs for late frames, then fills the gap from history in seq order', async () => {
    const { client, socket, delivered } = await inRoom(5);
    socket.deliver(msg(9));
    await advance(DEFAULTS.gapWaitMs - 1);
    assert.equal(historyRequests(socket).length, 0);
    await advance(1);
    const request = socket.lastSent('getHistory');
    assert.deepEqual(
      { roomId: request.roomId, afterSeq: request.afterSeq, limit: request.limit },
      { roomId: ROOM, afterSeq: 5, limit: HISTORY_PAGE_LIMIT },
    );
    socket.deliver(msg(10)); // live, while the page is on its way: held behind the gap
    assert.deepEqual(delivered, []);
    answerHistory(socket, { messages: [msg(6), msg(7), msg(8), msg(9)], latestSeq: 9, hasMore: false });
    await flush();
    assert.deepEqual(delivered, [6, 7, 8, 9, 10]);
    socket.deliver(msg(11));
    assert.deepEqual(delivered, [6, 7, 8, 9, 10, 11]);
    assert.equal(historyRequests(socket).length, 1);
    client.close();
  });

  it('honours the gapWaitMs option', async () => {
    const { client, socket } = await inRoom(5, { gapWaitMs: 200 });
    socket.deliver(msg(7));
    await advance(199);
    assert.equal(historyRequests(socket).length, 0);
    await advance(1);
    assert.equal(historyRequests(socket).length, 1);
    client.close();
  });

  it('bounds the wait from when the gap was first seen, even when late frames close part of it', async () => {
    const { client, socket, delivered } = await inRoom(5);
    socket.deliver(msg(7));
    socket.deliver(msg(9));
    await advance(800);
    socket.deliver(msg(6)); // 6, 7 delivered; 8 still missing
    assert.deepEqual(delivered, [6, 7]);
    await advance(199);
    assert.equal(historyRequests(socket).length, 0);
    await advance(1);
    assert.equal(socket.lastSent('getHistory').afterSeq, 7);
    client.close();
  });

  it('advances silently past skipped seqs (absent from a page below its last seq, or up to latestSeq)', async () => {
    const { client, socket, delivered, gaps } = await inRoom(5);
    socket.deliver(msg(12));
    await advance(DEFAULTS.gapWaitMs);
    // 7 and 9 are below the page's last seq and absent: skipped. 11 is <= latestSeq with
    // hasMore false: skipped as well.
    answerHistory(socket, { messages: [msg(6), msg(8), msg(10)], latestSeq: 11, hasMore: false });
    await flush();
    assert.deepEqual(delivered, [6, 8, 10, 12]);
    assert.deepEqual(gaps, []);
    socket.deliver(msg(13));
    assert.deepEqual(delivered, [6, 8, 10, 12, 13]);
    client.close();
  });

  it('de-duplicates history against what was delivered live (by seq and by messageId)', async () => {
    const { client, socket, delivered } = await inRoom(5);
    socket.deliver(msg(8));
    await advance(DEFAULTS.gapWaitMs);
    socket.deliver(msg(6)); // arrives live while the page is on its way
    answerHistory(socket, { messages: [msg(6), msg(7), msg(8)], latestSeq: 8, hasMore: false });
    await flush();
    assert.deepEqual(delivered, [6, 7, 8]);
    client.close();
  });

  it('asks again after the retry pause when the last page ends before the held frames (written after it)', async () => {
    const { client, socket, delivered, gaps } = await inRoom(5);
    socket.deliver(msg(9));
    await advance(DEFAULTS.gapWaitMs);
    answerHistory(socket, { messages: [msg(6)], latestSeq: 6, hasMore: false });
    await flush();
    assert.deepEqual(delivered, [6]);
    await advance(HISTORY_RETRY.firstDelayMs - 1);
    assert.equal(historyRequests(socket).length, 1);
    await advance(1);
    assert.equal(historyRequests(socket).length, 2);
    assert.equal(socket.lastSent('getHistory').afterSeq, 6);
    answerHistory(socket, { messages: [msg(7), msg(8), msg(9)], latestSeq: 9, hasMore: false });
    await flush();
    assert.deepEqual(delivered, [6, 7, 8, 9]);
    assert.deepEqual(gaps, []);
    client.close();
  });

  it('a page whose latestSeq is below afterSeq (a lagging read) is no progress: asked again, not given up', async () => {
    const { client, socket, delivered, gaps } = await inRoom(5);
    socket.deliver(msg(8));
    await advance(DEFAULTS.gapWaitMs);
    answerHistory(socket, { messages: [], latestSeq: 3, hasMore: false });
    await flush();
    assert.deepEqual([delivered, gaps], [[], []]);
    await advance(HISTORY_RETRY.firstDelayMs - 1);
    assert.equal(historyRequests(socket).length, 1);
    await advance(1);
    assert.equal(socket.lastSent('getHistory').afterSeq, 5);
    answerHistory(socket, { messages: [], latestSeq: 4, hasMore: true }); // lagging still
    await flush();
    await advance(2 * HISTORY_RETRY.firstDelayMs - 1);
    assert.equal(historyRequests(socket).length, 2);
    await advance(1);
    assert.equal(historyRequests(socket).length, 3);
    answerHistory(socket, { messages: [msg(6), msg(7), msg(8)], latestSeq: 8, hasMore: false });
    await flush();
    assert.deepEqual(delivered, [6, 7, 8]);
    assert.deepEqual(gaps, []);
    await advance(60_000);
    assert.equal(historyRequests(socket).length, 3);
    client.close();
  });

  it('pages that keep lagging behind afterSeq are retried a bounded number of times, then the gap is reported', async () => {
    const { client, socket, delivered, gaps } = await inRoom(5);
    socket.deliver(msg(8));
    await advance(DEFAULTS.gapWaitMs);
    for (let attempt = 0; attempt <= HISTORY_RETRY.maxAttempts; attempt += 1) {
      assert.equal(historyRequests(socket).length, attempt + 1);
      answerHistory(socket, { messages: [], latestSeq: 2, hasMore: false });
      await flush();
      await advance(HISTORY_RETRY.maxDelayMs);
    }
    assert.deepEqual(gaps, [gap(6, 7)]);
    assert.deepEqual(delivered, [8]);
    await advance(60_000);
    assert.equal(historyRequests(socket).length, HISTORY_RETRY.maxAttempts + 1);
    client.close();
  });

  it('retries after an empty page with hasMore (250 ms, then longer), bounded, then reports the gap', async () => {
    const { client, socket, delivered, gaps } = await inRoom(5);
    socket.deliver(msg(8));
    await advance(DEFAULTS.gapWaitMs);
    answerHistory(socket, { messages: [msg(6)], latestSeq: 8, hasMore: true }); // stops before 7
    await flush();
    assert.equal(historyRequests(socket).length, 2, 'progress: the next page is asked at once');
    const waits = [];
    for (let stall = 0; stall < HISTORY_RETRY.maxAttempts; stall += 1) {
      answerHistory(socket, { messages: [], latestSeq: 8, hasMore: true }); // 7 still being written
      await flush();
      const before = historyRequests(socket).length;
      let waited = 0;
      while (historyRequests(socket).length === before) {
        await advance(50);
        waited += 50;
        assert.ok(waited <= HISTORY_RETRY.maxDelayMs, 'bounded wait');
      }
      waits.push(waited);
    }
    assert.deepEqual(waits, [250, 500, 1000, 2000, 4000, 4000]);
    assert.deepEqual(delivered, [6]);
    answerHistory(socket, { messages: [], latestSeq: 8, hasMore: true });
    await flush();
    // Out of retries: 7 is reported once, the held 8 delivered.
    assert.deepEqual(gaps, [gap(7, 7)]);
    assert.deepEqual(delivered, [6, 8]);
    await advance(60_000);
    assert.equal(historyRequests(socket).length, 8);
    client.close();
  });

  it('reports an expired gap exactly once, then carries on from the earliest retained seq', async () => {
    const { client, socket, delivered, gaps } = await inRoom(5);
    socket.deliver(msg(30));
    await advance(DEFAULTS.gapWaitMs);
    const retained = [25, 26, 27, 28, 29, 30].map((seq) => msg(seq));
    answerHistory(socket, { messages: retained, latestSeq: 30, earliestSeq: 25, hasMore: false });
    await flush();
    assert.deepEqual(gaps, [gap(6, 24)]);
    assert.deepEqual(delivered, [25, 26, 27, 28, 29, 30]);
    // A later gap asks from the new position and never reports 6..24 again.
    socket.deliver(msg(32));
    await advance(DEFAULTS.gapWaitMs);
    assert.equal(socket.lastSent('getHistory').afterSeq, 30);
    answerHistory(socket, { messages: [msg(31), msg(32)], latestSeq: 32, earliestSeq: 25, hasMore: false });
    await flush();
    assert.equal(gaps.length, 1);
    assert.deepEqual(delivered, [25, 26, 27, 28, 29, 30, 31, 32]);
    client.close();
  });

  it('reports the gap when history is off (latestSeq 0) and delivers the held frames', async () => {
    const { client, socket, delivered, gaps } = await inRoom(5);
    socket.deliver(msg(8));
    await advance(DEFAULTS.gapWaitMs);
    answerHistory(socket, { messages: [], latestSeq: 0, earliestSeq: 1, hasMore: false });
    await flush();
    assert.deepEqual(gaps, [gap(6, 7)]);
    assert.deepEqual(delivered, [8]);
    client.close();
  });

  it('retries rate_limited after retryAfterMs; a refusal is reported on error and as a discontinuity', async () => {
    const { client, socket, errors, delivered, gaps } = await inRoom(5);
    socket.deliver(msg(7));
    await advance(DEFAULTS.gapWaitMs);
    socket.deliver({
      type: 'error',
      action: 'getHistory',
      requestId: socket.lastSent('getHistory').requestId,
      code: 'rate_limited',
      message: 'slow down',
      retryAfterMs: 1500,
    });
    await flush();
    await advance(1499);
    assert.equal(historyRequests(socket).length, 1);
    await advance(1);
    assert.equal(historyRequests(socket).length, 2);
    socket.fail(socket.lastSent('getHistory'), 'forbidden');
    await flush();
    assert.equal(errors.at(-1).code, 'forbidden');
    assert.equal(errors.at(-1).roomId, ROOM);
    assert.deepEqual(gaps, [gap(6, 6)]);
    assert.deepEqual(delivered, [7]);
    client.close();
  });

  it('stops filling a room that is left', async () => {
    const { client, socket, delivered } = await inRoom(5);
    socket.deliver(msg(7));
    await advance(DEFAULTS.gapWaitMs);
    client.leaveRoom(ROOM).catch(() => {});
    answerHistory(socket, { messages: [msg(6), msg(7)], latestSeq: 7, hasMore: false });
    await flush();
    assert.deepEqual(delivered, []);
    socket.deliver(msg(1, { messageId: 'after-leave' })); // no longer counted: passes through
    assert.deepEqual(delivered, [1]);
    client.close();
  });
});

describe('resume after a reconnect', () => {
  it('delivers the missed messages from history before newer live frames', async () => {
    const { client, FakeWebSocket, delivered } = await inRoom(5);
    FakeWebSocket.last().deliver(msg(6));
    const socket = await reconnect(FakeWebSocket);
    const rejoin = socket.lastSent('joinRoom');
    assert.equal(rejoin.roomId, ROOM);
    socket.ack(rejoin, { roomId: ROOM, members: [], latestSeq: 9 });
    await flush();
    const request = socket.lastSent('getHistory');
    assert.deepEqual([request.roomId, request.afterSeq], [ROOM, 6]);
    socket.deliver(msg(10)); // live, newer than what was missed
    socket.deliver(msg(11));
    assert.deepEqual(delivered, [6]);
    answerHistory(socket, { messages: [msg(7), msg(8), msg(9)], latestSeq: 9, hasMore: false });
    await flush();
    assert.deepEqual(delivered, [6, 7, 8, 9, 10, 11]);
    client.close();
  });

  it('pages until hasMore is false, byte-cut pages included (afterSeq = last returned seq)', async () => {
    const { client, FakeWebSocket, delivered } = await inRoom(0);
    const socket = await reconnect(FakeWebSocket);
    socket.ack(socket.lastSent('joinRoom'), { roomId: ROOM, members: [], latestSeq: 8 });
    await flush();
    // Pages far below the limit of 100: cut by bytes, not by count.
    const pages = [
      { messages: [msg(1), msg(2)], latestSeq: 8, hasMore: true },
      { messages: [msg(3)], latestSeq: 8, hasMore: true },
      { messages: [msg(4), msg(6)], latestSeq: 9, hasMore: true }, // 5 skipped; 9 allocated meanwhile
      { messages: [msg(7), msg(8), msg(9)], latestSeq: 9, hasMore: false },
    ];
    for (const page of pages) {
      answerHistory(socket, page);
      await flush();
    }
    assert.deepEqual(
      historyRequests(socket).map((f) => f.afterSeq),
      [0, 2, 3, 6],
    );
    assert.deepEqual(delivered, [1, 2, 3, 4, 6, 7, 8, 9]);
    await advance(60_000);
    assert.equal(historyRequests(socket).length, 4);
    client.close();
  });

  it('asks nothing when the rejoin shows no new message, and keeps counting across reconnects', async () => {
    const { client, FakeWebSocket, delivered } = await inRoom(5);
    FakeWebSocket.last().deliver(msg(6));
    const socket = await reconnect(FakeWebSocket);
    socket.ack(socket.lastSent('joinRoom'), { roomId: ROOM, members: [], latestSeq: 6 });
    await flush();
    socket.deliver(msg(6));
    socket.deliver(msg(7));
    assert.deepEqual(delivered, [6, 7]);
    assert.equal(historyRequests(socket).length, 0);
    client.close();
  });

  it('reports an expired stretch of the disconnection once', async () => {
    const { client, FakeWebSocket, delivered, gaps } = await inRoom(5);
    const socket = await reconnect(FakeWebSocket);
    socket.ack(socket.lastSent('joinRoom'), { roomId: ROOM, members: [], latestSeq: 12 });
    await flush();
    answerHistory(socket, { messages: [msg(11), msg(12)], latestSeq: 12, earliestSeq: 11, hasMore: false });
    await flush();
    assert.deepEqual(gaps, [gap(6, 10)]);
    assert.deepEqual(delivered, [11, 12]);
    client.close();
  });

  it('a drop during a fill abandons it; the next connection resumes from the last delivered seq', async () => {
    const { client, FakeWebSocket, delivered } = await inRoom(5);
    FakeWebSocket.last().deliver(msg(8));
    await advance(DEFAULTS.gapWaitMs);
    const first = FakeWebSocket.last();
    assert.equal(historyRequests(first).length, 1);
    const socket = await reconnect(FakeWebSocket);
    socket.ack(socket.lastSent('joinRoom'), { roomId: ROOM, members: [], latestSeq: 8 });
    await flush();
    assert.equal(socket.lastSent('getHistory').afterSeq, 5);
    answerHistory(socket, { messages: [msg(6), msg(7), msg(8)], latestSeq: 8, hasMore: false });
    await flush();
    assert.deepEqual(delivered, [6, 7, 8]);
    client.close();
  });

  it('a rejoin latestSeq below the last delivered seq is no reset: live frames overtook the ack', async () => {
    const { client, FakeWebSocket, delivered, gaps } = await inRoom(5);
    const socket = await reconnect(FakeWebSocket);
    const rejoin = socket.lastSent('joinRoom');
    socket.deliver(msg(6)); // sent just after the rejoin, delivered before its ack
    assert.deepEqual(delivered, [6]);
    socket.ack(rejoin, { roomId: ROOM, members: [], latestSeq: 5 });
    await flush();
    assert.deepEqual(gaps, []);
    socket.deliver(msg(6)); // still a duplicate: the position was not moved back
    socket.deliver(msg(7));
    assert.deepEqual(delivered, [6, 7]);
    await advance(60_000);
    assert.equal(historyRequests(socket).length, 0);
    client.close();
  });

  it('reports an open-ended discontinuity when the server stopped numbering the room, then counts afresh', async () => {
    const { client, FakeWebSocket, delivered, gaps } = await inRoom(5);
    FakeWebSocket.last().deliver(msg(8)); // held behind 6..7 when the connection drops
    const socket = await reconnect(FakeWebSocket);
    socket.ack(socket.lastSent('joinRoom'), { roomId: ROOM, members: [], latestSeq: 0 });
    await flush();
    assert.deepEqual(gaps, [gap(6, null)]);
    assert.equal(historyRequests(socket).length, 0);
    socket.deliver({ type: 'message', roomId: ROOM, messageId: 'plain', from: { userId: 'b' }, data: 1 });
    socket.deliver(msg(1, { messageId: 'new-1' })); // numbering restarted: 1 follows 0
    assert.deepEqual(delivered, ['plain', 1]); // the held 8 of the old numbering is dropped
    await advance(60_000);
    assert.deepEqual([historyRequests(socket).length, gaps.length], [0, 1]);
    client.close();
  });
});

describe('frames without seq', () => {
  it('pass straight through when history is off (latestSeq 0) or the server is v1 (no latestSeq)', async () => {
    for (const latestSeq of [0, undefined]) {
      const { client, FakeWebSocket, socket, delivered, gaps } = await inRoom(latestSeq);
      for (const id of ['a', 'b', 'c']) {
        socket.deliver({ type: 'message', roomId: ROOM, messageId: id, from: { userId: 'b' }, data: id });
      }
      assert.deepEqual(delivered, ['a', 'b', 'c']);
      const next = await reconnect(FakeWebSocket);
      next.ack(
        next.lastSent('joinRoom'),
        latestSeq === undefined ? { roomId: ROOM } : { roomId: ROOM, latestSeq },
      );
      await flush();
      next.deliver({ type: 'message', roomId: ROOM, messageId: 'd', from: { userId: 'b' }, data: 'd' });
      assert.deepEqual(delivered, ['a', 'b', 'c', 'd']);
      assert.equal(historyRequests(socket).length + historyRequests(next).length, 0);
      assert.deepEqual(gaps, []);
      client.close();
    }
  });

  it('pass straight through while a numbered room waits on a gap (ephemeral, user and tenant events)', async () => {
    const { client, socket, delivered } = await inRoom(5);
    socket.deliver(msg(7));
    socket.deliver({ type: 'message', roomId: ROOM, messageId: 'cursor', from: { userId: 'b' }, data: {} });
    socket.deliver({ type: 'event', target: { userId: 'alice' }, event: 'dm', messageId: 'u1', data: 1 });
    socket.deliver({ type: 'event', target: { tenant: true }, event: 'notice', messageId: 't1', data: 2 });
    assert.deepEqual(delivered, ['cursor', 'u1', 't1']);
    socket.deliver(msg(6));
    assert.deepEqual(delivered, ['cursor', 'u1', 't1', 6, 7]);
    client.close();
  });
});

describe('getHistory and ephemeral sends', () => {
  it('getHistory(roomId, {afterSeq, limit}) sends the fields given and resolves with the ack', async () => {
    const { client, socket } = await connected();
    const page = client.getHistory(ROOM, { afterSeq: 41, limit: 50 });
    const frame = socket.lastSent('getHistory');
    assert.deepEqual(
      { roomId: frame.roomId, afterSeq: frame.afterSeq, limit: frame.limit },
      { roomId: ROOM, afterSeq: 41, limit: 50 },
    );
    socket.ack(frame, { roomId: ROOM, messages: [msg(42)], latestSeq: 42, earliestSeq: 1, hasMore: false });
    const ack = await page;
    assert.deepEqual(
      ack.messages.map((m) => m.seq),
      [42],
    );
    assert.equal(ack.hasMore, false);
    client.getHistory(ROOM).catch(() => {});
    const latest = socket.lastSent('getHistory');
    assert.deepEqual(Object.keys(latest).sort(), ['action', 'requestId', 'roomId']);
    client.close();
  });

  it('getHistory rejects with the protocol code (e.g. invalid_request)', async () => {
    const { client, socket } = await connected();
    const page = client.getHistory(ROOM, { limit: 500 });
    socket.fail(socket.lastSent('getHistory'), 'invalid_request');
    await assert.rejects(page, { code: 'invalid_request' });
    client.close();
  });

  it('sendMessage passes ephemeral: true through, and omits it otherwise', async () => {
    const { client, socket } = await connected();
    client.sendMessage(ROOM, { x: 1 }, { ephemeral: true }).catch(() => {});
    client.sendMessage(ROOM, { x: 2 }).catch(() => {});
    client.sendMessage(ROOM, { x: 3 }, { ephemeral: false }).catch(() => {});
    const sends = socket.sent.filter((f) => f.action === 'sendMessage');
    assert.equal(sends[0].ephemeral, true);
    assert.equal('ephemeral' in sends[1], false);
    assert.equal('ephemeral' in sends[2], false);
    client.close();
  });
});
