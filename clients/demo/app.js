// Relay, the demo page: chat rooms with live presence and a tile fed by server-side publish.
// Plain ES module over the project's JavaScript client. Every text goes through
// textContent (never innerHTML), so nothing a user or the server sends can inject markup.
//
// Delivery continuity (protocol v1.1): joining a room shows its last messages from history;
// after a reconnect the client fetches what was missed by itself, and the page says how
// much that was ("Caught up: N missed messages"), or that some of it had expired.
//
// Presence (protocol v1.1): a join ack lists the first page of the room's users online; the
// rest is fetched page by page (nextCursor). A large room's presence comes coalesced (who
// joined and who left in the last interval): presenceChanges reads both forms alike.
import { WsClient, presenceChanges } from '/js/wsclient.js';

const $ = (id) => document.getElementById(id);
const STATE_TEXT = {
  connecting: 'Connecting…',
  open: 'Connected',
  reconnecting: 'Reconnecting…',
  closed: 'Not connected',
};
// A demo is watched while it reconnects: retry within 4 s at most (the client's default is
// 30 s, right for fleets of clients, long for a person looking at the page).
const BACKOFF = { backoffBaseMs: 300, backoffCapMs: 4000 };
const HISTORY_LIMIT = 50; // messages shown from history when a room is joined
// A catch-up normally ends when the room reaches the rejoin's latestSeq; if that seq was
// skipped by the server (a send that failed), nothing ever carries it: say "caught up" once
// the catch-up has brought nothing new for this long (longer than the client's history
// retries, ~12 s in all, so a slow fill is not cut short).
const RESUME_SETTLE_MS = 15000;
const PRESENCE_SHOWN = 200; // names listed under "Online in"; the count covers everyone
const NAMES_IN_A_LINE = 3; // names in a chat line such as "bob, carol and 4 others joined"

let client = null;
let me = null; // { user, tenant }
let current = null; // the room shown in the chat
let online = false;
let lastProblem = ''; // why the last token request failed, for the offline banner
let countdown = null;
const presence = new Map(); // roomId -> Set of userIds (last known while offline)
// roomId -> the room's memberCount while its set is partial: the rest of the list is being
// fetched, or could not be
const partial = new Map();
// roomId -> { lines: [{ who, text, kind, messageId?, action? }], seen: Set of messageIds
// shown, lastSeq: the room's position shown here, resume: null or the catch-up under way }
const rooms = new Map();

const isSeq = (value) => Number.isInteger(value) && value >= 0;

function roomState(roomId) {
  if (!rooms.has(roomId)) rooms.set(roomId, { lines: [], seen: new Set(), lastSeq: 0, resume: null });
  return rooms.get(roomId);
}

// ---- gateway ------------------------------------------------------------------------------

async function fetchToken(user, tenant) {
  const query = new URLSearchParams({ user, tenant });
  let res;
  try {
    res = await fetch(`/_dev/token?${query}`);
  } catch {
    throw new Error(`the local gateway at ${location.host} does not answer (is make dev running?)`);
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message || `token request failed (HTTP ${res.status})`);
  return body;
}

async function publishCommand(tenant) {
  let settings = '';
  try {
    settings = (await (await fetch('/_dev/health')).json()).makeSettings || '';
  } catch {
    // the gateway just answered the token request; without health the defaults are shown
  }
  const make = [settings, 'make -s publish'].filter(Boolean).join(' ');
  return `${make} TENANT=${tenant} ALL=1 EVENT=metric DATA='{"value": 42}'`;
}

// ---- rendering ----------------------------------------------------------------------------

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function showText(data) {
  if (data && typeof data === 'object' && typeof data.text === 'string') return data.text;
  return typeof data === 'string' ? data : JSON.stringify(data);
}

function lineElement({ who, text, kind, action }) {
  const li = el('li', undefined, kind);
  if (kind === 'mine' || kind === 'other') li.append(el('span', who, 'from'), el('span', text, 'text'));
  else li.append(el('span', text, 'text'));
  if (action) {
    const button = el('button', action.label, 'line-action');
    button.type = 'button';
    button.addEventListener('click', action.run);
    li.append(button);
  }
  return li;
}

function addLine(roomId, entry) {
  roomState(roomId).lines.push(entry);
  if (roomId === current) {
    $('messages').append(lineElement(entry));
    $('messages').scrollTop = $('messages').scrollHeight;
    renderChatState();
  }
}

/** Put lines at the top of a room's transcript (what came before the join). */
function prependLines(roomId, entries) {
  const room = roomState(roomId);
  room.lines.unshift(...entries);
  if (roomId === current) renderMessages();
}

function renderMessages() {
  $('messages').replaceChildren(...(current ? roomState(current).lines : []).map(lineElement));
  $('messages').scrollTop = $('messages').scrollHeight;
  renderChatState();
}

function renderChatState() {
  const count = current && rooms.has(current) ? rooms.get(current).lines.length : 0;
  $('messages-empty').hidden = count > 0;
  $('messages-empty').textContent = current
    ? `No messages in ${current} yet. Say hello!`
    : 'Join a room, then say hello.';
  const canSend = online && Boolean(current);
  $('send').disabled = !canSend;
  $('send-hint').textContent = !online
    ? 'Offline: messages cannot be sent until the connection is back. What you typed is kept.'
    : current
      ? ''
      : 'Join a room first: messages go to everyone in it.';
}

function renderPresence() {
  const users = [...(presence.get(current) || [])].sort();
  const count = partial.get(current) ?? users.length;
  $('presence-title').textContent = current ? `Online in ${current} (${count})` : 'Online now';
  $('presence-empty').hidden = Boolean(current);
  $('presence-stale').hidden = online || !current;
  if (online) delete $('presence').dataset.offline;
  else $('presence').dataset.offline = 'true';
  const items = users.slice(0, PRESENCE_SHOWN).map((u) => el('li', u === me.user ? `${u} (you)` : u));
  if (count > PRESENCE_SHOWN) items.push(el('li', `and ${count - PRESENCE_SHOWN} more`, 'more'));
  $('presence').replaceChildren(...items);
}

function renderRooms() {
  const items = [...presence.keys()].map((roomId) => {
    const li = el('li');
    const open = el('button', roomId, 'open-room');
    open.type = 'button';
    if (roomId === current) open.setAttribute('aria-current', 'true');
    open.addEventListener('click', () => select(roomId));
    const leave = el('button', 'Leave', 'leave');
    leave.type = 'button';
    leave.setAttribute('aria-label', `Leave ${roomId}`);
    leave.addEventListener('click', () => leaveRoom(roomId));
    li.append(open, leave);
    return li;
  });
  $('room-list').replaceChildren(...items);
  $('rooms-empty').hidden = items.length > 0;
}

function select(roomId) {
  current = roomId;
  $('chat-room').textContent = roomId ? `· ${roomId}` : '';
  renderMessages();
  renderRooms();
  renderPresence();
}

// ---- connection state ---------------------------------------------------------------------

function setStatus(state) {
  $('status').dataset.state = state;
  $('status-text').textContent = STATE_TEXT[state] || state;
}

function showBanner(text, button) {
  clearInterval(countdown);
  $('offline-text').textContent = text; // announced once (role=alert); the countdown is not
  $('offline-countdown').textContent = '';
  $('retry').textContent = button;
  $('offline').hidden = false;
}

function onState(change) {
  setStatus(change.state);
  online = change.state === 'open';
  if (change.state === 'open') {
    lastProblem = '';
    clearInterval(countdown);
    $('offline').hidden = true;
  } else if (change.state === 'reconnecting') {
    const why = lastProblem || `the connection closed (code ${change.code})`;
    const until = Date.now() + change.delayMs;
    const tick = () => {
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      $('offline-countdown').textContent = `Next try in ${left} s.`;
    };
    showBanner(`Connection lost: ${why}. Retrying automatically (attempt ${change.attempt}).`, 'Retry now');
    tick();
    countdown = setInterval(tick, 500);
  } else if (change.state === 'closed' && !change.byUser && me) {
    showBanner(`Disconnected: ${change.reason || `code ${change.code}`}.`, 'Reconnect');
  }
  renderPresence();
  renderChatState();
}

function retryNow() {
  if (!client) return;
  showBanner('Reconnecting…', 'Retry now');
  client.close(1000, 'retry now'); // keeps the rooms: connect() rejoins them
  client.connect().catch((err) => showBanner(`Could not reconnect: ${err.message}`, 'Reconnect'));
}

// ---- messages, history and catching up ------------------------------------------------------

const plural = (n, one, many) => (n === 1 ? `1 ${one}` : `${n} ${many}`);

function messageLine(m) {
  const from = m.from && typeof m.from.userId === 'string' ? m.from.userId : 'unknown';
  const mine = from === me.user; // sent by this user from another tab or device
  return {
    who: mine ? `${from} (you)` : from,
    text: showText(m.data),
    kind: mine ? 'mine' : 'other',
    messageId: m.messageId,
  };
}

/** Chat messages of a history page, ascending (room-targeted events are stored too). */
function chatMessages(page) {
  const list = Array.isArray(page.messages) ? page.messages : [];
  return list.filter((m) => m && m.type === 'message' && typeof m.messageId === 'string');
}

/**
 * A message the client delivered: live, or fetched from history to fill a gap or to resume
 * after a reconnect. Each messageId is shown once, whichever way it came first.
 */
function onMessage(m) {
  const room = roomState(m.roomId);
  if (room.seen.has(m.messageId)) return;
  room.seen.add(m.messageId);
  // What counts as missed: a message delivered after a reconnect whose seq is at or below
  // the rejoin ack's latestSeq, i.e. one that was sent while this page was away. The client
  // never delivers a seq twice, so each of them is counted once.
  const resume = room.resume;
  if (resume && isSeq(m.seq) && m.seq <= resume.target) resume.count += 1;
  addLine(m.roomId, messageLine(m));
  advance(m.roomId, m.seq);
}

/** The room got as far as `seq` here: a resume that reached its target is over. */
function advance(roomId, seq) {
  const room = rooms.get(roomId);
  if (!room || !isSeq(seq)) return;
  room.lastSeq = Math.max(room.lastSeq, seq);
  const resume = room.resume;
  if (!resume) return;
  if (room.lastSeq >= resume.target) finishResume(roomId);
  else settleLater(roomId);
}

function settleLater(roomId) {
  const resume = rooms.get(roomId)?.resume;
  if (!resume) return;
  clearTimeout(resume.timer);
  resume.timer = setTimeout(() => finishResume(roomId), RESUME_SETTLE_MS);
}

/**
 * A room was rejoined after a reconnect. Its ack's latestSeq is where the room stood at that
 * moment: the client fetches everything between what this page showed and that seq from
 * history before any newer live message, and the page counts those as missed.
 */
function onRejoin(ack) {
  setMembers(ack.roomId, ack);
  const room = rooms.get(ack.roomId);
  if (!room) return;
  const previous = room.resume; // a reconnect in the middle of a resume: it carries on
  clearTimeout(previous?.timer);
  room.resume = null;
  // No numbering (a v1 server), or the room lost it (the client reports a discontinuity).
  if (!isSeq(ack.latestSeq) || (ack.latestSeq === 0 && room.lastSeq > 0)) return;
  room.resume = {
    target: ack.latestSeq,
    count: previous?.count ?? 0,
    gap: previous?.gap ?? false,
    own: previous?.own ?? 0, // seqs of this page's own messages sent meanwhile
    timer: null,
  };
  if (room.lastSeq >= ack.latestSeq) finishResume(ack.roomId);
  else settleLater(ack.roomId);
}

function finishResume(roomId) {
  const room = rooms.get(roomId);
  const resume = room?.resume;
  if (!resume) return;
  clearTimeout(resume.timer);
  room.resume = null;
  room.lastSeq = Math.max(room.lastSeq, resume.own);
  const missed = plural(resume.count, 'missed message', 'missed messages');
  if (!resume.gap) {
    const text = resume.count ? `Caught up: ${missed}` : 'Caught up: no missed messages';
    addLine(roomId, { text, kind: 'notice' });
  } else if (resume.count) {
    // Some were recovered, the rest had expired: the warning above says which.
    addLine(roomId, { text: `Caught up on ${missed}; the others could not be recovered`, kind: 'notice' });
  } // else: nothing was recovered, and the warning says so
}

/** Seqs fromSeq..toSeq of a room will never be delivered (toSeq null: unknown how many). */
function onDiscontinuity({ roomId, fromSeq, toSeq }) {
  const room = rooms.get(roomId);
  if (!room) return;
  const away = Boolean(room.resume);
  if (room.resume) room.resume.gap = true;
  let text;
  if (toSeq === null) {
    text = `The history of ${roomId} was reset while you were away: messages may be missing.`;
  } else {
    const lost = plural(toSeq - fromSeq + 1, 'message', 'messages');
    text = away
      ? `Some messages expired while you were away: ${lost} in ${roomId} could not be fetched.`
      : `${lost} in ${roomId} could not be delivered.`;
  }
  addLine(roomId, {
    text: `${text} Reload the room to see its current state.`,
    kind: 'warning',
    action: { label: `Reload ${roomId}`, run: () => reloadRoom(roomId) },
  });
  if (toSeq === null) room.lastSeq = 0; // the client counts afresh from 0
  else advance(roomId, toSeq);
}

/**
 * Show the messages sent before the join: the latest ones from history. Later ones reach the
 * page live (the client delivers every seq after the join's latestSeq), so the page takes
 * only seqs up to it, and never a messageId it shows already.
 */
async function showEarlier(roomId, latestSeq) {
  const room = rooms.get(roomId);
  if (!room || !isSeq(latestSeq) || latestSeq === 0) return; // nothing stored yet (or v1)
  let page;
  try {
    page = await client.getHistory(roomId, { limit: HISTORY_LIMIT });
  } catch (err) {
    if (rooms.get(roomId) === room) {
      $('chat-error').textContent = `Earlier messages of ${roomId} could not be loaded: ${err.message}`;
    }
    return;
  }
  if (rooms.get(roomId) !== room) return; // left meanwhile
  const earlier = chatMessages(page).filter(
    (m) => isSeq(m.seq) && m.seq <= latestSeq && !room.seen.has(m.messageId),
  );
  if (earlier.length === 0) return;
  for (const m of earlier) room.seen.add(m.messageId);
  const older = isSeq(page.earliestSeq) && earlier[0].seq > page.earliestSeq;
  const header = older
    ? `The last ${plural(earlier.length, 'message', 'messages')} before you joined`
    : `${plural(earlier.length, 'message', 'messages')} before you joined`;
  prependLines(roomId, [{ text: header, kind: 'system' }, ...earlier.map(messageLine)]);
}

/** After a discontinuity: the room's latest messages from history replace its transcript. */
async function reloadRoom(roomId) {
  const room = rooms.get(roomId);
  if (!room || !client) return;
  $('chat-error').textContent = '';
  const mark = room.lines.length; // lines after this one arrive while the page loads
  let page;
  try {
    page = await client.getHistory(roomId, { limit: HISTORY_LIMIT });
  } catch (err) {
    $('chat-error').textContent = `Could not reload ${roomId}: ${err.message}`;
    return;
  }
  if (rooms.get(roomId) !== room) return;
  const latest = chatMessages(page);
  const ids = new Set(latest.map((m) => m.messageId));
  const since = room.lines.slice(mark).filter((line) => !ids.has(line.messageId));
  const header = latest.length
    ? `Reloaded ${roomId}: its last ${plural(latest.length, 'message', 'messages')}`
    : `Reloaded ${roomId}: no messages are kept in its history`;
  room.lines = [{ text: header, kind: 'system' }, ...latest.map(messageLine), ...since];
  for (const id of ids) room.seen.add(id);
  advance(roomId, page.latestSeq);
  if (roomId === current) renderMessages();
}

// ---- actions ------------------------------------------------------------------------------

/**
 * A join (or rejoin) ack lists the first page of the room's users online; when `nextCursor`
 * says more follow, the rest is fetched a page at a time, each merged as it comes (presence
 * frames that arrive meanwhile change the same set). A newer ack's list replaces this one.
 */
async function setMembers(roomId, ack) {
  const users = new Set((ack.members || []).map((m) => m.userId));
  presence.set(roomId, users);
  const more = typeof ack.nextCursor === 'string';
  if (more) partial.set(roomId, ack.memberCount ?? users.size);
  else partial.delete(roomId);
  if (roomId === current) renderPresence();
  if (!more) return;
  try {
    for await (const page of client.presencePages(roomId, { cursor: ack.nextCursor })) {
      if (presence.get(roomId) !== users) return; // left, or listed anew by a rejoin
      for (const { userId } of page.users || []) users.add(userId);
      if (roomId === current) renderPresence();
    }
  } catch (err) {
    if (presence.get(roomId) === users) {
      $('chat-error').textContent = `Could not list everyone online in ${roomId}: ${err.message}`;
    }
    return;
  }
  if (presence.get(roomId) !== users) return;
  partial.delete(roomId);
  if (roomId === current) renderPresence();
}

function forgetMembers(roomId) {
  presence.delete(roomId);
  partial.delete(roomId);
}

/** "bob", "bob, carol and dave", "bob, carol, dave and 4 others" */
function names(userIds) {
  const shown = userIds.slice(0, NAMES_IN_A_LINE);
  const others = userIds.length - shown.length;
  if (others > 0) return `${shown.join(', ')} and ${others} other${others === 1 ? '' : 's'}`;
  return shown.length > 1 ? `${shown.slice(0, -1).join(', ')} and ${shown.at(-1)}` : shown.join('');
}

/** A presence frame of either form: a user's join or leave, or a large room's coalesced change. */
function onPresence(frame) {
  const users = presence.get(frame.roomId);
  if (!users) return;
  const { roomId, joined, left } = presenceChanges(frame);
  for (const userId of joined) users.add(userId);
  for (const userId of left) users.delete(userId);
  if (joined.length) addLine(roomId, { text: `${names(joined)} joined`, kind: 'system' });
  if (left.length) addLine(roomId, { text: `${names(left)} left`, kind: 'system' });
  if (roomId === current) renderPresence();
}

function forgetRoom(roomId) {
  clearTimeout(rooms.get(roomId)?.resume?.timer);
  rooms.delete(roomId);
}

async function joinRoom(roomId) {
  $('chat-error').textContent = '';
  if (presence.has(roomId) && client.rooms.includes(roomId)) {
    select(roomId); // joined already
    return;
  }
  forgetRoom(roomId); // whatever a late frame of an earlier visit left
  roomState(roomId); // live messages can arrive before the ack is handled
  let ack;
  try {
    ack = await client.joinRoom(roomId);
  } catch (err) {
    forgetRoom(roomId);
    $('chat-error').textContent = `Could not join ${roomId}: ${err.message}`;
    return;
  }
  const room = roomState(roomId);
  if (isSeq(ack.latestSeq)) room.lastSeq = Math.max(room.lastSeq, ack.latestSeq);
  setMembers(roomId, ack); // the rest of a large room's list comes meanwhile
  prependLines(roomId, [{ text: `You joined ${roomId}`, kind: 'system' }]);
  select(roomId);
  await showEarlier(roomId, ack.latestSeq);
}

async function leaveRoom(roomId) {
  $('chat-error').textContent = '';
  try {
    await client.leaveRoom(roomId);
  } catch (err) {
    $('chat-error').textContent = `Left ${roomId} here; the server did not confirm: ${err.message}`;
  }
  forgetMembers(roomId);
  forgetRoom(roomId);
  if (current === roomId) select([...presence.keys()][0] || null);
  else renderRooms();
}

function wire() {
  client.on('state', onState);
  client.on('message', onMessage);
  client.on('discontinuity', onDiscontinuity);
  client.on('presence', onPresence);
  client.on('rejoin', onRejoin);
  client.on('error', (err) => {
    if (!err.roomId) return;
    // A room's error is a refused rejoin, or a history fill that failed (then a
    // discontinuity says what is missing).
    const fill = err.frame ? err.frame.action === 'getHistory' : /^getHistory /.test(err.message);
    $('chat-error').textContent = fill
      ? `Missed messages of ${err.roomId} could not be fetched: ${err.message}`
      : `Could not rejoin ${err.roomId}: ${err.message}`;
  });
  client.on('event', (e) => {
    $('tile-event').textContent = e.event;
    $('tile-data').textContent = JSON.stringify(e.data, null, 2);
    $('tile-time').textContent = `Updated ${new Date().toLocaleTimeString()}`;
    // Room-targeted events share the room's numbering: they move a catch-up along too.
    if (e.target && typeof e.target.roomId === 'string') advance(e.target.roomId, e.seq);
  });
}

async function signIn(user, tenant, room) {
  $('signin-error').textContent = '';
  for (const id of ['user', 'tenant']) $(id).removeAttribute('aria-invalid');
  if (!user || !tenant) {
    $('signin-error').textContent = 'Enter a user and a tenant.';
    return;
  }
  let first;
  try {
    first = await fetchToken(user, tenant); // refuses ids the authorizer would refuse, saying why
  } catch (err) {
    // The gateway names what it refuses: "user 'x' and tenant 'y' not allowed: ids are ..."
    const refused = ['user', 'tenant'].filter((id) => new RegExp(`(^| )${id} '`).test(err.message));
    for (const id of refused) $(id).setAttribute('aria-invalid', 'true');
    const todo = refused.length ? ' Fix the highlighted field and sign in again.' : '';
    $('signin-error').textContent = `Cannot sign in: ${err.message}.${todo}`;
    if (refused.length) $(refused[0]).focus();
    return;
  }
  me = { user, tenant };
  const url = (first.url || '').split('?')[0] || `ws://${location.host}/dev`;
  const token = async () => {
    try {
      return (await fetchToken(user, tenant)).token;
    } catch (err) {
      lastProblem = err.message;
      throw err;
    }
  };
  client = new WsClient(url, { token, ...BACKOFF });
  wire();
  try {
    await client.connect();
  } catch (err) {
    $('signin-error').textContent = `Cannot connect: ${err.message}`;
    client = null;
    me = null;
    return;
  }
  $('identity-user').textContent = user;
  $('identity-tenant').textContent = tenant;
  $('identity').hidden = false;
  document.title = `${user} at ${tenant} · Relay`;
  $('signin').hidden = true;
  $('app').hidden = false;
  select(null);
  $('tile-command').textContent = await publishCommand(tenant);
  if (room) await joinRoom(room);
  (current ? $('text') : $('room')).focus();
}

function signOut() {
  const leaving = client;
  client = null;
  me = null;
  online = false;
  current = null;
  presence.clear();
  partial.clear();
  for (const roomId of [...rooms.keys()]) forgetRoom(roomId);
  leaving?.close(1000, 'signed out');
  clearInterval(countdown);
  $('offline').hidden = true;
  $('identity').hidden = true;
  $('app').hidden = true;
  $('signin').hidden = false;
  $('tile-event').textContent = 'Waiting for an event';
  $('tile-data').textContent = '';
  $('tile-time').textContent = '';
  $('chat-error').textContent = '';
  setStatus('closed');
  document.title = 'Relay · live rooms demo';
  window.history.replaceState(null, '', location.pathname);
  $('user').focus();
}

$('signin-form').addEventListener('submit', (e) => {
  e.preventDefault();
  signIn($('user').value.trim(), $('tenant').value.trim(), null);
});

$('join-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const roomId = $('room').value.trim();
  if (roomId) joinRoom(roomId);
  $('room').value = '';
});

$('join-lobby').addEventListener('click', () => joinRoom('lobby'));

$('send-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('text').value;
  if (!text) return;
  if (!online || !current) {
    renderChatState(); // the hint says why nothing was sent
    return;
  }
  $('chat-error').textContent = '';
  $('send').disabled = true;
  const roomId = current;
  try {
    const ack = await client.sendMessage(roomId, { text });
    const room = rooms.get(roomId);
    if (room) {
      room.seen.add(ack.messageId); // history may return it: shown once
      addLine(roomId, { who: `${me.user} (you)`, text, kind: 'mine', messageId: ack.messageId });
      // The client delivers in seq order, but its own acks come at once: during a catch-up,
      // the page's position moves past this seq only once the missed messages are in.
      if (room.resume && isSeq(ack.seq)) room.resume.own = Math.max(room.resume.own, ack.seq);
      else advance(roomId, ack.seq);
    }
    $('text').value = '';
  } catch (err) {
    $('chat-error').textContent = `Not sent (${err.code}): ${err.message}. Your text is kept.`;
  } finally {
    renderChatState();
  }
});

$('retry').addEventListener('click', retryNow);
$('signout').addEventListener('click', signOut);

const params = new URLSearchParams(location.search);
setStatus('closed');
if (params.get('user') && params.get('tenant')) {
  $('user').value = params.get('user');
  $('tenant').value = params.get('tenant');
  signIn(params.get('user'), params.get('tenant'), params.get('room'));
}
