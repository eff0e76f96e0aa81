// Relay, the demo page: chat rooms with live presence and a tile fed by server-side publish.
// Plain ES module over the project's JavaScript client. Every text goes through
// textContent (never innerHTML), so nothing a user or the server sends can inject markup.
import { WsClient } from '/js/wsclient.js';

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

let client = null;
let me = null; // { user, tenant }
let current = null; // the room shown in the chat
let online = false;
let lastProblem = ''; // why the last token request failed, for the offline banner
let countdown = null;
const presence = new Map(); // roomId -> Set of userIds (last known while offline)
const transcripts = new Map(); // roomId -> [{ who, text, kind }]

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

function lineElement({ who, text, kind }) {
  const li = el('li', undefined, kind);
  if (kind === 'system') li.textContent = text;
  else li.append(el('span', who, 'from'), el('span', text, 'text'));
  return li;
}

function addLine(roomId, entry) {
  if (!transcripts.has(roomId)) transcripts.set(roomId, []);
  transcripts.get(roomId).push(entry);
  if (roomId === current) {
    $('messages').append(lineElement(entry));
    $('messages').scrollTop = $('messages').scrollHeight;
    renderChatState();
  }
}

function renderChatState() {
  const count = current ? (transcripts.get(current) || []).length : 0;
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
  $('presence-title').textContent = current ? `Online in ${current}` : 'Online now';
  $('presence-empty').hidden = Boolean(current);
  $('presence-stale').hidden = online || !current;
  if (online) delete $('presence').dataset.offline;
  else $('presence').dataset.offline = 'true';
  const items = users.map((u) => el('li', u === me.user ? `${u} (you)` : u));
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
  $('messages').replaceChildren(...(transcripts.get(roomId) || []).map(lineElement));
  renderRooms();
  renderPresence();
  renderChatState();
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

// ---- actions ------------------------------------------------------------------------------

function setMembers(roomId, members) {
  presence.set(roomId, new Set(members.map((m) => m.userId)));
  if (roomId === current) renderPresence();
}

async function joinRoom(roomId) {
  $('chat-error').textContent = '';
  try {
    const ack = await client.joinRoom(roomId);
    setMembers(roomId, ack.members);
    addLine(roomId, { text: `You joined ${roomId}`, kind: 'system' });
    select(roomId);
  } catch (err) {
    $('chat-error').textContent = `Could not join ${roomId}: ${err.message}`;
  }
}

async function leaveRoom(roomId) {
  $('chat-error').textContent = '';
  try {
    await client.leaveRoom(roomId);
  } catch (err) {
    $('chat-error').textContent = `Left ${roomId} here; the server did not confirm: ${err.message}`;
  }
  presence.delete(roomId);
  transcripts.delete(roomId);
  if (current === roomId) select([...presence.keys()][0] || null);
  else renderRooms();
}

function wire() {
  client.on('state', onState);
  client.on('message', (m) => {
    const mine = m.from.userId === me.user; // sent by this user from another tab or device
    addLine(m.roomId, {
      who: mine ? `${m.from.userId} (you)` : m.from.userId,
      text: showText(m.data),
      kind: mine ? 'mine' : 'other',
    });
  });
  client.on('presence', (p) => {
    const users = presence.get(p.roomId);
    if (!users) return;
    if (p.event === 'join') users.add(p.userId);
    else users.delete(p.userId);
    addLine(p.roomId, { text: `${p.userId} ${p.event === 'join' ? 'joined' : 'left'}`, kind: 'system' });
    if (p.roomId === current) renderPresence();
  });
  client.on('rejoin', (ack) => setMembers(ack.roomId, ack.members));
  client.on('error', (err) => {
    if (err.roomId) $('chat-error').textContent = `Could not rejoin ${err.roomId}: ${err.message}`;
  });
  client.on('event', (e) => {
    $('tile-event').textContent = e.event;
    $('tile-data').textContent = JSON.stringify(e.data, null, 2);
    $('tile-time').textContent = `Updated ${new Date().toLocaleTimeString()}`;
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
  transcripts.clear();
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
  try {
    await client.sendMessage(current, { text });
    addLine(current, { who: `${me.user} (you)`, text, kind: 'mine' });
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
