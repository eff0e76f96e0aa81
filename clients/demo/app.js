// Demo page: chat rooms with live presence and a tile fed by server-side publish.
// Plain ES module over the project's JavaScript client; every text goes through
// textContent (never innerHTML), so messages cannot inject markup.
import { WsClient } from '/js/wsclient.js';

const $ = (id) => document.getElementById(id);
const STATE_TEXT = {
  connecting: 'Connecting…',
  open: 'Connected',
  reconnecting: 'Reconnecting…',
  closed: 'Disconnected',
};

let client = null;
let me = null;
let current = null;
const presence = new Map(); // roomId -> Set of userIds
const history = new Map(); // roomId -> [{ who, text, kind }]

async function fetchToken(user, tenant) {
  const query = new URLSearchParams({ user, tenant });
  const res = await fetch(`/_dev/token?${query}`);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message || `token request failed (${res.status})`);
  return body;
}

function setStatus(state) {
  $('status').dataset.state = state;
  $('status-text').textContent = STATE_TEXT[state] || state;
}

function render(tag, text, className) {
  const el = document.createElement(tag);
  el.textContent = text;
  if (className) el.className = className;
  return el;
}

function addLine(roomId, entry) {
  if (!history.has(roomId)) history.set(roomId, []);
  history.get(roomId).push(entry);
  if (roomId === current) $('messages').append(lineElement(entry));
  $('messages').scrollTop = $('messages').scrollHeight;
}

function lineElement({ who, text, kind }) {
  const li = document.createElement('li');
  li.className = kind;
  if (kind === 'system') {
    li.textContent = text;
  } else {
    li.append(render('span', who, 'from'), render('span', text, 'text'));
  }
  return li;
}

function showText(data) {
  if (data && typeof data === 'object' && typeof data.text === 'string') return data.text;
  return typeof data === 'string' ? data : JSON.stringify(data);
}

function renderPresence() {
  $('presence-room').textContent = current || '-';
  const users = [...(presence.get(current) || [])].sort();
  $('presence').replaceChildren(...users.map((u) => render('li', u === me ? `${u} (you)` : u)));
}

function renderRooms() {
  const items = [...presence.keys()].map((roomId) => {
    const li = document.createElement('li');
    const open = render('a', roomId, roomId === current ? 'active' : '');
    open.href = '#';
    open.addEventListener('click', (e) => { e.preventDefault(); select(roomId); });
    const leave = render('button', 'Leave');
    leave.type = 'button';
    leave.setAttribute('aria-label', `Leave ${roomId}`);
    leave.addEventListener('click', () => leaveRoom(roomId));
    li.append(open, leave);
    return li;
  });
  $('room-list').replaceChildren(...items);
}

function select(roomId) {
  current = roomId;
  $('chat-room').textContent = roomId ? `· ${roomId}` : '';
  $('messages').replaceChildren(...(history.get(roomId) || []).map(lineElement));
  renderRooms();
  renderPresence();
}

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
    $('chat-error').textContent = `Could not join ${roomId}: ${err.code || ''} ${err.message}`;
  }
}

async function leaveRoom(roomId) {
  try {
    await client.leaveRoom(roomId);
  } catch (err) {
    $('chat-error').textContent = `Could not leave ${roomId}: ${err.message}`;
  }
  presence.delete(roomId);
  if (current === roomId) select([...presence.keys()][0] || null);
  else renderRooms();
}

function wire() {
  client.on('state', ({ state }) => setStatus(state));
  client.on('message', (m) => addLine(m.roomId, { who: m.from.userId, text: showText(m.data), kind: 'other' }));
  client.on('presence', (p) => {
    const users = presence.get(p.roomId);
    if (!users) return;
    if (p.event === 'join') users.add(p.userId);
    else users.delete(p.userId);
    addLine(p.roomId, { text: `${p.userId} ${p.event === 'join' ? 'joined' : 'left'}`, kind: 'system' });
    if (p.roomId === current) renderPresence();
  });
  client.on('rejoin', (ack) => setMembers(ack.roomId, ack.members));
  client.on('event', (e) => {
    $('tile-event').textContent = e.event;
    $('tile-data').textContent = JSON.stringify(e.data, null, 2);
    $('tile-time').textContent = `updated ${new Date().toLocaleTimeString()}`;
  });
}

async function signIn(user, tenant, room) {
  $('signin-error').textContent = '';
  try {
    const first = await fetchToken(user, tenant);
    const url = (first.url || '').split('?')[0] || `ws://${location.host}/dev`;
    me = user;
    client = new WsClient(url, { token: async () => (await fetchToken(user, tenant)).token });
    wire();
    await client.connect();
  } catch (err) {
    $('signin-error').textContent = `Could not connect: ${err.message}`;
    return;
  }
  document.title = `${user}@${tenant} · live demo`;
  for (const el of document.querySelectorAll('.tenant-name')) el.textContent = tenant;
  $('signin').hidden = true;
  $('app').hidden = false;
  if (room) await joinRoom(room);
  $('text').focus();
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

$('send-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('text').value;
  if (!text || !current) return;
  $('chat-error').textContent = '';
  try {
    await client.sendMessage(current, { text });
    addLine(current, { who: me, text, kind: 'mine' });
    $('text').value = '';
  } catch (err) {
    $('chat-error').textContent = `Not sent: ${err.code || ''} ${err.message}`;
  }
});

const params = new URLSearchParams(location.search);
setStatus('closed');
if (params.get('user') && params.get('tenant')) {
  $('user').value = params.get('user');
  $('tenant').value = params.get('tenant');
  signIn(params.get('user'), params.get('tenant'), params.get('room'));
}
