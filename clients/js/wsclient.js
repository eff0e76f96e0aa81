// WebSocket client for the serverless WebSocket platform, protocol v1.1 (works with v1 servers).
//
// One ES module, no dependencies, no build step. Works in browsers and in Node >= 20 given a
// WebSocket implementation (Node 22+ has `globalThis.WebSocket`; on Node 20 pass
// `WebSocket` from the `ws` package). See docs/CLIENTS.md for the semantics and
// docs/PROTOCOL.md ("Delivery continuity") for the sequence/history contract it follows.

/** Protocol v1 error codes the server may send in an error frame. */
export const PROTOCOL_ERROR_CODES = Object.freeze([
  'invalid_json',
  'unknown_action',
  'invalid_request',
  'forbidden',
  'not_member',
  'payload_too_large',
  'rate_limited',
  'internal_error',
]);

/** API Gateway closes idle connections after 10 minutes; heartbeats must stay well under. */
export const IDLE_TIMEOUT_MS = 600_000;
/** Largest accepted heartbeat interval: 8 minutes leaves 2 minutes of slack for slow links. */
export const MAX_HEARTBEAT_INTERVAL_MS = 480_000;

/** Defaults of every tunable option. */
export const DEFAULTS = Object.freeze({
  heartbeatIntervalMs: 300_000,
  requestTimeoutMs: 10_000,
  backoffBaseMs: 500,
  backoffCapMs: 30_000,
  maxReconnectAttempts: Infinity,
  // API Gateway accepts 32 KB per frame and browsers send a message as one frame.
  maxMessageBytes: 32 * 1024,
  // How long a frame whose seq skips ahead waits for the late frames before the gap is
  // filled from history.
  gapWaitMs: 1000,
});

/** Page size of the client's own getHistory calls (the protocol's maximum). */
export const HISTORY_PAGE_LIMIT = 100;
/**
 * Retries of a history fill that makes no progress (an empty page with `hasMore`, a message
 * still being written; a page whose `latestSeq` is below `afterSeq`, a lagging read; a last
 * page that ends before the held frames; or a timeout, `internal_error`, `rate_limited`
 * reply): wait `firstDelayMs`, doubling up to `maxDelayMs`, at most `maxAttempts` times in a
 * row; then the gap is reported as a `discontinuity`.
 */
export const HISTORY_RETRY = Object.freeze({ firstDelayMs: 250, maxDelayMs: 4000, maxAttempts: 6 });
/** In-band token refresh: this long before `exp`, or at this fraction of the lifetime if sooner. */
export const TOKEN_REFRESH_LEAD_MS = 60_000;
export const TOKEN_REFRESH_FRACTION = 0.8;

const EVENT_TYPES = Object.freeze([
  'message',
  'presence',
  'event',
  'state',
  'error',
  'rejoin',
  'discontinuity',
  'tokenRefreshed',
]);
const RETRYABLE_HISTORY_ERRORS = new Set(['timeout', 'internal_error', 'rate_limited']);
/** How many recent messageIds are remembered for de-duplication (the oldest are forgotten first). */
const SEEN_IDS_MAX = 10_000;
const NO_WEBSOCKET =
  'no WebSocket implementation in this runtime: use a browser or Node >= 22, run Node 20 with ' +
  '--experimental-websocket, or pass one: npm install ws, then ' +
  "new WsClient(url, { token, WebSocket: (await import('ws')).WebSocket })";
const OPEN = 1; // WebSocket.OPEN in every implementation

/**
 * Whether a close code means "do not reconnect": 1008 (policy violation, used for auth
 * rejections) and the application range 4000-4999 (auth and account decisions). Every other
 * code (1000 from a management-API delete or token expiry, 1001 idle/2 h limit, 1006 network
 * loss, 1009 too large, 1011 server error...) is followed by a reconnect.
 * @param {number} code
 * @returns {boolean}
 */
export function isTerminalCloseCode(code) {
  return code === 1008 || (code >= 4000 && code <= 4999);
}

/**
 * Full-jitter exponential backoff: a uniform delay in [0, min(cap, base * 2^attempt)).
 * Full jitter spreads a fleet of clients that lost the same gateway, so they do not return
 * in lockstep.
 * @param {number} attempt 0 for the first retry
 * @param {number} baseMs
 * @param {number} capMs
 * @param {() => number} [random] returns a number in [0, 1)
 * @returns {number}
 */
export function backoffDelay(attempt, baseMs, capMs, random = Math.random) {
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
  return random() * ceiling;
}

/** An Error with the protocol error code, or `timeout` / `disconnected` / a client-side code. */
export class ClientError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {{frame?: Record<string, any>, closeCode?: number, roomId?: string}} [details]
   */
  constructor(code, message, details = {}) {
    super(message);
    this.name = 'ClientError';
    this.code = code;
    this.frame = details.frame;
    this.closeCode = details.closeCode;
    this.roomId = details.roomId;
    const retryAfterMs = details.frame?.retryAfterMs;
    /** From a `rate_limited` error frame that says how long to wait. */
    this.retryAfterMs =
      typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) ? retryAfterMs : undefined;
  }
}

/**
 * The claims of a JWT, read without verifying it (only to know when it expires; the server
 * verifies). `null` when the token is not a decodable JWT.
 * @param {string} token
 * @returns {Record<string, unknown> | null}
 */
export function decodeJwtPayload(token) {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3) return null;
  try {
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims !== null && typeof claims === 'object' && !Array.isArray(claims) ? claims : null;
  } catch {
    return null;
  }
}

/**
 * When to refresh a token that expires at `expMs` and was obtained at `startMs`:
 * TOKEN_REFRESH_LEAD_MS before expiry or at TOKEN_REFRESH_FRACTION of the lifetime, whichever
 * is sooner, but never before half the lifetime (a token shorter-lived than the lead time
 * would otherwise be refreshed in a loop).
 * @param {number} expMs
 * @param {number} startMs
 * @returns {number} epoch milliseconds
 */
export function tokenRefreshTime(expMs, startMs) {
  const lifetime = Math.max(0, expMs - startMs);
  const at = Math.min(expMs - TOKEN_REFRESH_LEAD_MS, startMs + TOKEN_REFRESH_FRACTION * lifetime);
  return Math.max(at, startMs + lifetime / 2);
}

/**
 * A JWT's `exp` in epoch milliseconds, or null.
 * @param {string} token
 */
function jwtExpiryMs(token) {
  const exp = decodeJwtPayload(token)?.exp;
  return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : null;
}

/**
 * A room's sequence number (integers from 1); 0 is "no message yet" in acks.
 * @param {unknown} value
 * @returns {value is number}
 */
function isSeq(value) {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * The room of a frame that belongs to a room's sequence: a `message`, or a room-targeted
 * `event`. `null` for anything else (user- and tenant-targeted events).
 * @param {Record<string, any>} frame
 * @returns {string | null}
 */
function roomOf(frame) {
  if (frame.type === 'message') return typeof frame.roomId === 'string' ? frame.roomId : null;
  const target = frame.target;
  if (target !== null && typeof target === 'object' && typeof target.roomId === 'string')
    return target.roomId;
  return null;
}

/**
 * A request awaiting its reply: `send` is set until the frame is sent (a request of an
 * action held after `rate_limited` waits for the hold to end); `timer` (its timeout) then.
 * @typedef {{
 *   action: string,
 *   resolve: Function,
 *   reject: Function,
 *   timer: any,
 *   send: (() => void) | null,
 * }} PendingRequest
 */

/**
 * Delivery state of one joined room (see "Delivery continuity" in docs/PROTOCOL.md).
 * `lastSeq` is the last seq delivered to the application (`null` until the first join is
 * acked: the room's numbered frames are held meanwhile); `held` keeps frames ahead of a gap,
 * by seq (`null`: this client's own message, acknowledged to it, never delivered back);
 * `known` is the highest seq known to exist.
 * @typedef {{
 *   roomId: string,
 *   lastSeq: number | null,
 *   known: number,
 *   held: Map<number, Record<string, any> | null>,
 *   gapTimer: any,
 *   fill: object | null,
 *   sleep: {timer: any, wake: () => void} | null,
 * }} RoomStream
 */

/**
 * Resolve a relative path (e.g. `/dev`) against the page location, so a page can connect to
 * the host that served it; absolute ws(s):// URLs pass through.
 * @param {string} url
 * @returns {URL}
 */
function resolveUrl(url) {
  const location = globalThis.location;
  if (!/^wss?:\/\//i.test(url) && location && typeof location.href === 'string') {
    const resolved = new URL(url, location.href);
    resolved.protocol = resolved.protocol === 'https:' ? 'wss:' : 'ws:';
    return resolved;
  }
  return new URL(url);
}

/**
 * Fail fast on a URL that can never work (it would otherwise be retried forever).
 * @param {string} url
 */
function checkUrl(url) {
  let parsed;
  try {
    parsed = resolveUrl(url);
  } catch {
    throw new TypeError('url is not a valid URL (expected ws://host/path or wss://...)');
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new TypeError(`url must use ws: or wss:, got ${parsed.protocol}`);
  }
}

/** @param {string} text */
function utf8Length(text) {
  return new TextEncoder().encode(text).length;
}

/**
 * @param {unknown} value
 * @param {string} name
 * @param {number} min
 * @param {number} max
 */
function checkRange(value, name, min, max) {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) {
    throw new RangeError(`${name} must be a number in [${min}, ${max}], got ${String(value)}`);
  }
}

/**
 * The options that were given, as request fields (`undefined` ones left out).
 * @param {Record<string, unknown>} options
 * @param {string[]} names
 * @returns {Record<string, unknown>}
 */
function givenFields(options, names) {
  /** @type {Record<string, unknown>} */
  const fields = {};
  for (const name of names) if (options[name] !== undefined) fields[name] = options[name];
  return fields;
}

/** @param {unknown} list */
function userIdsOf(list) {
  return Array.isArray(list) ? list.filter((id) => typeof id === 'string') : [];
}

/**
 * The change a `presence` frame announces, in one shape whichever form the server used: a
 * v1 transition `{event: 'join' | 'leave', userId}` (rooms up to the server's coalescing
 * threshold) or a v1.1 coalesced frame `{joined: [userId...], left: [userId...]}` (larger
 * rooms: the net change since the room's previous such frame, at most one frame per room
 * per interval). Apply it as set operations: add `joined`, remove `left`.
 * @param {Record<string, any>} frame a `presence` frame
 * @returns {import('./wsclient.js').PresenceChanges}
 */
export function presenceChanges(frame) {
  const { roomId } = frame;
  if (frame.event === 'join' || frame.event === 'leave') {
    const user = userIdsOf([frame.userId]);
    return frame.event === 'join' ? { roomId, joined: user, left: [] } : { roomId, joined: [], left: user };
  }
  return { roomId, joined: userIdsOf(frame.joined), left: userIdsOf(frame.left) };
}

/**
 * @param {string} roomId
 * @returns {RoomStream}
 */
function newStream(roomId) {
  return {
    roomId,
    lastSeq: null,
    known: 0,
    held: new Map(),
    gapTimer: null,
    fill: null,
    sleep: null,
  };
}

/**
 * A protocol v1.1 client: reconnects, heartbeats, rejoins rooms, correlates requests, delivers
 * each room's messages in order and exactly once (filling gaps from history) and refreshes its
 * token in band.
 */
export class WsClient {
  /**
   * @param {string} url e.g. `ws://127.0.0.1:3001/dev` (the token is added as `?token=`)
   * @param {import('./wsclient.js').ClientOptions} [options]
   */
  constructor(url, options) {
    const opts = { ...DEFAULTS, ...options };
    checkRange(opts.heartbeatIntervalMs, 'heartbeatIntervalMs', 1, MAX_HEARTBEAT_INTERVAL_MS);
    checkRange(opts.requestTimeoutMs, 'requestTimeoutMs', 1, Infinity);
    checkRange(opts.backoffBaseMs, 'backoffBaseMs', 0, Infinity);
    checkRange(opts.backoffCapMs, 'backoffCapMs', opts.backoffBaseMs, Infinity);
    checkRange(opts.maxReconnectAttempts, 'maxReconnectAttempts', 0, Infinity);
    checkRange(opts.maxMessageBytes, 'maxMessageBytes', 1, Infinity);
    checkRange(opts.gapWaitMs, 'gapWaitMs', 0, Infinity);
    const token = opts.token;
    if (typeof token !== 'string' && typeof token !== 'function') {
      throw new TypeError('token must be a string or a function returning a (promise of a) string');
    }
    checkUrl(url);
    const Ctor = opts.WebSocket ?? globalThis.WebSocket;
    if (typeof Ctor !== 'function') {
      throw new TypeError(NO_WEBSOCKET);
    }
    this._url = url;
    this._opts = opts;
    this._WebSocket = Ctor;
    this._random = opts.random ?? Math.random;
    this._isTerminal = opts.isTerminalClose ?? isTerminalCloseCode;
    /** @type {Map<string, Set<Function>>} */
    this._listeners = new Map(EVENT_TYPES.map((type) => [type, new Set()]));
    /** @type {Map<string, PendingRequest>} in the order the requests were made */
    this._pending = new Map();
    /** @type {Map<string, {until: number, timer: any}>} actions held after `rate_limited` */
    this._holds = new Map();
    /** @type {Set<string>} */
    this._rooms = new Set();
    /** @type {import('./wsclient.js').ConnectionState} */
    this._state = 'closed';
    this._socket = null;
    this._generation = 0;
    this._attempt = 0;
    this._userClosed = true;
    /** @type {any} */
    this._heartbeatTimer = null;
    /** @type {any} */
    this._reconnectTimer = null;
    /** @type {{resolve: Function, reject: Function}[]} */
    this._connectWaiters = [];
    this._idPrefix = Math.random().toString(36).slice(2, 10);
    this._seq = 0;
    /** @type {Map<string, RoomStream>} per joined room; kept across reconnects and close() */
    this._streams = new Map();
    /** @type {Set<string>} recently delivered messageIds, oldest first */
    this._seen = new Set();
    /** The token of the current connection, when it was obtained, and its expiry. */
    this._token = '';
    this._tokenAt = 0;
    this._tokenExpMs = 0;
    /** @type {any} */
    this._refreshTimer = null;
    this._refreshUnsupported = false; // a v1 server answered refreshToken with unknown_action
  }

  /** @returns {import('./wsclient.js').ConnectionState} */
  get state() {
    return this._state;
  }

  /** Rooms the client will rejoin after a reconnect. @returns {string[]} */
  get rooms() {
    return [...this._rooms];
  }

  /**
   * Open the connection (retrying with backoff). Resolves once open; rejects on a terminal
   * close, after maxReconnectAttempts, or when close() is called first.
   * @returns {Promise<void>}
   */
  connect() {
    if (this._state === 'open') return Promise.resolve();
    const waiting = new Promise((resolve, reject) => {
      this._connectWaiters.push({ resolve, reject });
    });
    if (this._state === 'closed') {
      this._userClosed = false;
      this._attempt = 0;
      this._setState('connecting');
      this._dial();
    }
    return waiting;
  }

  /**
   * Send `{action, requestId, ...fields}` and resolve with the matching ack frame.
   * Rejects with a ClientError whose code is the protocol error code, `timeout`,
   * `disconnected` or `payload_too_large` (checked locally before sending).
   * After a `rate_limited` reply with `retryAfterMs`, requests of that action are held (in
   * order) until that time has passed, then sent; the timeout counts from the sending.
   * @param {string} action
   * @param {Record<string, unknown>} [fields]
   * @param {{timeoutMs?: number}} [options]
   * @returns {Promise<Record<string, any>>}
   */
  request(action, fields = {}, options = {}) {
    const socket = this._socket;
    if (this._state !== 'open' || !socket || socket.readyState !== OPEN) {
      return Promise.reject(new ClientError('disconnected', `not connected (state ${this._state})`));
    }
    const requestId = `${this._idPrefix}-${++this._seq}`;
    let text;
    try {
      text = JSON.stringify({ ...fields, action, requestId });
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return Promise.reject(new ClientError('invalid_request', `fields are not JSON-serialisable: ${why}`));
    }
    const size = utf8Length(text);
    if (size > this._opts.maxMessageBytes) {
      return Promise.reject(
        new ClientError('payload_too_large', `frame of ${size} bytes exceeds ${this._opts.maxMessageBytes}`),
      );
    }
    const timeoutMs = options.timeoutMs ?? this._opts.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      /** @type {PendingRequest} */
      const entry = { action, resolve, reject, timer: null, send: null };
      entry.send = () => {
        entry.send = null;
        entry.timer = setTimeout(() => {
          this._pending.delete(requestId);
          reject(new ClientError('timeout', `${action} got no reply within ${timeoutMs} ms`));
        }, timeoutMs);
        try {
          socket.send(text);
        } catch (err) {
          this._settle(requestId, null, new ClientError('disconnected', `send failed: ${err}`));
        }
      };
      this._pending.set(requestId, entry);
      if (!this._holds.has(action)) entry.send(); // else _releaseHold sends it, in order
    });
  }

  /**
   * Join a room; it is remembered (and rejoined after reconnects) once the server acks.
   * The ack lists the first page of `members` (v1.1: `memberCount` users online, and
   * `nextCursor` when more follow: `presencePages(roomId, {cursor})` fetches the rest).
   * @param {string} roomId
   * @param {{limit?: number}} [options] limit: users in `members` (1-500, server default 100)
   */
  async joinRoom(roomId, options = {}) {
    // A first join: the room's numbered frames are held until the ack says where to start.
    const first = !this._streams.has(roomId);
    if (first) this._streams.set(roomId, newStream(roomId));
    let ack;
    try {
      ack = await this.request('joinRoom', { roomId, ...givenFields(options, ['limit']) });
    } catch (err) {
      if (first) this._joinFailed(roomId);
      throw err;
    }
    this._rooms.add(roomId);
    this._joined(roomId, ack);
    return ack;
  }

  /**
   * Leave a room. It is forgotten at once, so a failed leave is never undone by a rejoin.
   * @param {string} roomId
   */
  leaveRoom(roomId) {
    this._rooms.delete(roomId);
    this._forgetStream(roomId);
    return this.request('leaveRoom', { roomId });
  }

  /**
   * @param {string} roomId
   * @param {unknown} data any JSON value
   * @param {{ephemeral?: boolean}} [options] ephemeral: not numbered, not stored, best effort
   */
  sendMessage(roomId, data, options = {}) {
    return this.request(
      'sendMessage',
      options.ephemeral ? { roomId, data, ephemeral: true } : { roomId, data },
    );
  }

  /**
   * One page of a room's stored messages (the raw ack: `messages`, `latestSeq`,
   * `earliestSeq`, `hasMore`). Delivery is not affected: the client fills gaps by itself;
   * this is for the application's own use, e.g. loading older messages.
   * @param {string} roomId
   * @param {{afterSeq?: number, limit?: number}} [options] without afterSeq: the latest `limit`
   */
  getHistory(roomId, options = {}) {
    return this.request('getHistory', { roomId, ...givenFields(options, ['afterSeq', 'limit']) });
  }

  /**
   * One page of the users online in a room, or in the whole tenant: the raw ack (`users`;
   * v1.1: `memberCount` for a room, `nextCursor` when more users follow).
   * @param {string | null} [roomId] omitted or null: the whole tenant
   * @param {{cursor?: string, limit?: number}} [options] cursor: a page's `nextCursor`;
   *   limit: 1-500, server default 100
   */
  getPresence(roomId, options = {}) {
    const room = roomId === undefined || roomId === null ? {} : { roomId };
    return this.request('getPresence', { ...room, ...givenFields(options, ['cursor', 'limit']) });
  }

  /**
   * Every page of getPresence, in user id order, following `nextCursor` to the last page: an
   * async iterator of the acks. Start after `cursor` (e.g. a joinRoom ack's `nextCursor`) to
   * fetch the rest of a room's members. A failed request ends it with that request's error.
   * @param {string | null} [roomId] omitted or null: the whole tenant
   * @param {{cursor?: string, limit?: number}} [options]
   * @returns {AsyncGenerator<Record<string, any>, void, undefined>}
   */
  async *presencePages(roomId, options = {}) {
    let cursor = options.cursor;
    for (;;) {
      const page = await this.getPresence(roomId, { ...options, cursor });
      yield page;
      const next = page.nextCursor;
      if (typeof next !== 'string' || next === '') return; // the last page (or a v1 server)
      if (next === cursor) {
        throw new ClientError('invalid_frame', 'getPresence answered with the cursor it was given');
      }
      cursor = next;
    }
  }

  /**
   * All users online in a room, or in the whole tenant, page by page (presencePages):
   * `userIds` in id order and, for a room, the last page's `memberCount`. Users who come
   * or go while it pages may be missed or listed: presence frames tell of them.
   * @param {string | null} [roomId] omitted or null: the whole tenant
   * @param {{cursor?: string, limit?: number}} [options]
   * @returns {Promise<import('./wsclient.js').PresenceList>}
   */
  async presenceAll(roomId, options = {}) {
    /** @type {string[]} */
    const userIds = [];
    /** @type {number | undefined} */
    let memberCount;
    for await (const page of this.presencePages(roomId, options)) {
      const users = Array.isArray(page.users) ? page.users : [];
      userIds.push(...userIdsOf(users.map((user) => user?.userId)));
      if (typeof page.memberCount === 'number') memberCount = page.memberCount;
    }
    return memberCount === undefined ? { userIds } : { userIds, memberCount };
  }

  heartbeat() {
    return this.request('heartbeat');
  }

  /**
   * Subscribe to `message`, `presence`, `event`, `state`, `error`, `rejoin`, `discontinuity`
   * or `tokenRefreshed`.
   * @param {string} type
   * @param {Function} fn
   * @returns {() => void} unsubscribe
   */
  on(type, fn) {
    this._listenersOf(type).add(fn);
    return () => this.off(type, fn);
  }

  /**
   * @param {string} type
   * @param {Function} fn
   */
  off(type, fn) {
    this._listenersOf(type).delete(fn);
  }

  /**
   * Close for good: no reconnect, pending requests rejected with `disconnected`, timers
   * stopped. The joined rooms are kept, so connect() later rejoins them.
   * @param {number} [code]
   * @param {string} [reason]
   */
  close(code = 1000, reason = 'client closed') {
    this._userClosed = true;
    this._generation += 1; // any in-flight dial or socket event is now stale
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
    this._stopTimers();
    const socket = this._detachSocket();
    if (socket) {
      try {
        socket.close(code, reason);
      } catch {
        // already closing; nothing left to release
      }
    }
    this._rejectPending('client closed');
    this._clearHolds();
    this._failConnectWaiters(new ClientError('disconnected', 'client closed', { closeCode: code }));
    if (this._state !== 'closed') this._setState('closed', { code, reason, byUser: true });
  }

  // ---- connection lifecycle -------------------------------------------------------------

  /** One connection attempt; a bug in it must end the client visibly, never hang connect(). */
  _dial() {
    const generation = ++this._generation;
    this._dialOnce(generation).catch((err) => {
      if (generation !== this._generation) return;
      this._finish(new ClientError('internal_error', `client failure: ${err?.message ?? err}`), {
        code: 1006,
        reason: 'client failure',
      });
    });
  }

  /**
   * Fetch a fresh token, then open the socket.
   * @param {number} generation
   */
  async _dialOnce(generation) {
    let token;
    try {
      const source = this._opts.token;
      token = typeof source === 'function' ? await source() : source;
      if (typeof token !== 'string' || token === '') throw new TypeError('token provider returned no token');
    } catch (err) {
      if (generation !== this._generation) return;
      this._emit(
        'error',
        new ClientError('token_error', `token provider failed: ${err instanceof Error ? err.name : 'Error'}`),
      );
      this._onDrop(1006, 'token provider failed', generation);
      return;
    }
    if (generation !== this._generation) return; // close() ran while the token was fetched
    this._token = token;
    this._tokenAt = Date.now();
    const url = resolveUrl(this._url);
    url.searchParams.set('token', token);
    let socket;
    try {
      socket = new this._WebSocket(url.toString());
    } catch (err) {
      // A malformed URL never heals: give up rather than retry forever.
      this._finish(
        new ClientError('invalid_url', `cannot open socket: ${err instanceof Error ? err.message : err}`),
        {
          code: 1006,
          reason: 'invalid url',
        },
      );
      return;
    }
    this._socket = socket;
    socket.onopen = () => generation === this._generation && this._onOpen();
    socket.onmessage = (/** @type {{data: unknown}} */ ev) =>
      generation === this._generation && this._onFrame(ev.data);
    socket.onclose = (/** @type {{code: number, reason: string}} */ ev) =>
      this._onDrop(ev.code, ev.reason, generation);
    socket.onerror = () => {}; // a close event always follows and carries what we act on
  }

  _onOpen() {
    this._attempt = 0;
    this._setState('open');
    this._startHeartbeat();
    this._scheduleRefresh(this._token, this._tokenAt);
    const waiters = this._connectWaiters.splice(0);
    for (const w of waiters) w.resolve();
    for (const roomId of this._rooms) this._rejoin(roomId);
  }

  /**
   * Rejoin a remembered room, then fetch from history what was missed while disconnected.
   * @param {string} roomId
   */
  _rejoin(roomId) {
    this.request('joinRoom', { roomId }).then(
      (ack) => {
        this._emit('rejoin', ack);
        if (this._rooms.has(roomId)) this._rejoined(roomId, ack);
      },
      (err) => {
        // A refusal (forbidden, invalid_request...) is final; a drop or timeout is retried
        // on the next reconnect. A drop is reported by the state change, not here.
        if (err.code === 'disconnected') return;
        if (err.code !== 'timeout') {
          this._rooms.delete(roomId);
          this._forgetStream(roomId);
        }
        err.roomId = roomId;
        this._emit('error', err);
      },
    );
  }

  /**
   * The socket closed (or was abandoned): reject pending work, then reconnect or stop.
   * @param {number} code
   * @param {string} reason
   * @param {number} generation
   */
  _onDrop(code, reason, generation) {
    if (generation !== this._generation || this._userClosed) return;
    this._stopTimers();
    this._detachSocket();
    this._rejectPending(`connection closed (code ${code})`);
    if (this._isTerminal(code)) {
      this._finish(
        new ClientError('disconnected', `closed by server (code ${code}): ${reason}`, { closeCode: code }),
        {
          code,
          reason,
          terminal: true,
        },
      );
      return;
    }
    if (this._attempt >= this._opts.maxReconnectAttempts) {
      this._finish(
        new ClientError('disconnected', `gave up after ${this._attempt} reconnect attempts`, {
          closeCode: code,
        }),
        { code, reason, gaveUp: true },
      );
      return;
    }
    const delayMs = backoffDelay(
      this._attempt,
      this._opts.backoffBaseMs,
      this._opts.backoffCapMs,
      this._random,
    );
    this._attempt += 1;
    this._setState('reconnecting', { code, reason, attempt: this._attempt, delayMs });
    this._reconnectTimer = setTimeout(() => {
      this._reconnectTimer = null;
      this._dial();
    }, delayMs);
  }

  /**
   * Stop for good after a terminal close, exhausted attempts or an unusable URL.
   * @param {ClientError} error
   * @param {Record<string, unknown>} info
   */
  _finish(error, info) {
    this._userClosed = true;
    this._generation += 1;
    this._stopTimers();
    this._detachSocket();
    this._rejectPending(error.message);
    this._clearHolds();
    this._failConnectWaiters(error);
    this._emit('error', error);
    if (this._state !== 'closed') this._setState('closed', info); // an error listener may have called close()
  }

  /** Forget the current socket and silence its handlers. */
  _detachSocket() {
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
    }
    return socket;
  }

  _startHeartbeat() {
    this._stopHeartbeat();
    this._heartbeatTimer = setInterval(() => this._beat(), this._opts.heartbeatIntervalMs);
  }

  _stopHeartbeat() {
    clearInterval(this._heartbeatTimer);
    this._heartbeatTimer = null;
  }

  /** The connection is gone: no heartbeat, token refresh, gap wait or history fill runs. */
  _stopTimers() {
    this._stopHeartbeat();
    clearTimeout(this._refreshTimer);
    this._refreshTimer = null;
    for (const stream of this._streams.values()) this._haltStream(stream);
  }

  /** A heartbeat that times out means a half-open socket: drop it and reconnect. */
  _beat() {
    const generation = this._generation;
    this.heartbeat().catch((err) => {
      if (err.code === 'timeout' && generation === this._generation) {
        const socket = this._socket;
        this._onDrop(1006, 'heartbeat timeout', generation);
        try {
          socket?.close(1000, 'heartbeat timeout');
        } catch {
          // the socket is being abandoned anyway
        }
      } else if (err.code !== 'disconnected') {
        this._emit('error', err);
      }
    });
  }

  // ---- frames and events ----------------------------------------------------------------

  /** @param {unknown} data */
  _onFrame(data) {
    let frame;
    try {
      frame = JSON.parse(String(data));
    } catch {
      this._emit('error', new ClientError('invalid_frame', 'server sent a frame that is not JSON'));
      return;
    }
    if (frame === null || typeof frame !== 'object') return;
    const { type, requestId } = frame;
    if (type === 'ack' || type === 'error') {
      const error =
        type === 'error'
          ? new ClientError(String(frame.code), String(frame.message ?? frame.code), { frame })
          : null;
      if (error?.code === 'rate_limited') this._hold(frame.action, error.retryAfterMs);
      if (typeof requestId === 'string' && this._pending.has(requestId)) {
        // Before the caller's continuation runs, so that the next frame already sees it.
        if (!error && frame.action === 'sendMessage') this._ownMessage(frame);
        this._settle(requestId, frame, error);
      } else if (error) {
        this._emit('error', error); // e.g. invalid_json, which cannot echo a requestId
      }
      return;
    }
    if (type === 'message' || type === 'event') this._onRoomFrame(frame);
    else if (type === 'presence') this._emit(type, frame);
  }

  // ---- delivery continuity: order by seq, de-duplicate, fill gaps from history --------------

  /**
   * A live `message` or `event` frame. Frames of a joined room that carry a `seq` reach the
   * application strictly in seq order, each once; a frame ahead of a gap is held. Anything
   * else (ephemeral, user/tenant events, history off, v1 server) passes straight through,
   * de-duplicated by messageId.
   * @param {Record<string, any>} frame
   */
  _onRoomFrame(frame) {
    const roomId = roomOf(frame);
    const stream = roomId === null ? undefined : this._streams.get(roomId);
    const seq = frame.seq;
    if (!stream || !isSeq(seq) || seq === 0) {
      if (this._seen.has(frame.messageId)) return;
      this._markSeen(frame.messageId);
      this._emit(frame.type, frame);
      return;
    }
    if (stream.lastSeq !== null && seq <= stream.lastSeq) return; // delivered already
    if (stream.lastSeq !== null && seq === stream.lastSeq + 1) {
      this._deliver(stream, seq, frame);
      this._drain(stream);
    } else {
      stream.held.set(seq, frame);
      stream.known = Math.max(stream.known, seq);
    }
    this._checkGap(stream);
  }

  /**
   * The sendMessage ack of this connection: the sender never receives its own message, so
   * its seq counts as delivered (its messageId too, should history return it).
   * @param {Record<string, any>} ack
   */
  _ownMessage(ack) {
    this._markSeen(ack.messageId);
    const stream = typeof ack.roomId === 'string' ? this._streams.get(ack.roomId) : undefined;
    const seq = ack.seq;
    if (!stream || stream.lastSeq === null || !isSeq(seq) || seq <= stream.lastSeq) return;
    stream.held.set(seq, null);
    stream.known = Math.max(stream.known, seq);
    this._drain(stream);
    this._checkGap(stream);
  }

  /**
   * The application's joinRoom was acked: the count starts at the ack's `latestSeq` (frames
   * up to it were sent before the join). A join of a room already counted changes nothing.
   * @param {string} roomId
   * @param {Record<string, any>} ack
   */
  _joined(roomId, ack) {
    let stream = this._streams.get(roomId);
    if (!stream) {
      stream = newStream(roomId);
      this._streams.set(roomId, stream);
    }
    if (stream.lastSeq !== null) return;
    stream.lastSeq = isSeq(ack.latestSeq) ? ack.latestSeq : 0; // absent: a v1 server, no numbering
    stream.known = Math.max(stream.known, stream.lastSeq);
    this._drain(stream);
    this._checkGap(stream);
  }

  /**
   * A first join failed: hand over what was held for the room (in order), stop counting it.
   * @param {string} roomId
   */
  _joinFailed(roomId) {
    const stream = this._streams.get(roomId);
    if (!stream || stream.lastSeq !== null) return;
    this._forgetStream(roomId);
    for (const seq of [...stream.held.keys()].sort((a, b) => a - b)) {
      const frame = stream.held.get(seq);
      if (frame && !this._seen.has(frame.messageId)) {
        this._markSeen(frame.messageId);
        this._emit(frame.type === 'event' ? 'event' : 'message', frame);
      }
    }
  }

  /**
   * A rejoin after a reconnect was acked: fetch what was missed since the last delivered seq.
   * @param {string} roomId
   * @param {Record<string, any>} ack
   */
  _rejoined(roomId, ack) {
    const stream = this._streams.get(roomId);
    if (!stream || stream.lastSeq === null) {
      this._joined(roomId, ack);
      return;
    }
    const latest = isSeq(ack.latestSeq) ? ack.latestSeq : 0;
    if (latest === 0 && stream.lastSeq > 0) {
      // The room lost its numbering (history turned off, or reset): what was sent while
      // away cannot be known, let alone fetched. Say so, then count afresh. (A latestSeq
      // below the last delivered seq but above 0 is no sign of that: frames sent after the
      // rejoin can overtake its ack.)
      this._discontinuity(stream, stream.lastSeq + 1, null);
      stream.lastSeq = 0;
      stream.known = 0;
      stream.held.clear();
    }
    stream.known = Math.max(stream.known, latest);
    if (latest > stream.lastSeq || stream.held.size > 0) this._startFill(stream);
  }

  /**
   * Deliver a frame at its seq (`null`: this client's own message, nothing to deliver).
   * @param {RoomStream} stream
   * @param {number} seq
   * @param {Record<string, any> | null} frame
   */
  _deliver(stream, seq, frame) {
    stream.lastSeq = seq;
    if (frame === null || this._streams.get(stream.roomId) !== stream) return; // left meanwhile
    if (this._seen.has(frame.messageId)) return;
    this._markSeen(frame.messageId);
    this._emit(frame.type === 'event' ? 'event' : 'message', frame);
  }

  /**
   * Deliver the held frames that follow the last delivered seq without a gap.
   * @param {RoomStream} stream
   */
  _drain(stream) {
    if (stream.lastSeq === null) return;
    for (const seq of stream.held.keys()) if (seq <= stream.lastSeq) stream.held.delete(seq);
    let next = stream.lastSeq + 1;
    while (stream.held.has(next)) {
      const frame = /** @type {Record<string, any> | null} */ (stream.held.get(next));
      stream.held.delete(next);
      this._deliver(stream, next, frame);
      next += 1;
    }
  }

  /**
   * Move the last delivered seq up to `upTo`, delivering the held frames below it in order.
   * The seqs in between that nobody holds are skipped (`lost` false: history proved them
   * skipped) or reported as a `discontinuity` (`lost` true: history cannot return them).
   * @param {RoomStream} stream
   * @param {number} upTo
   * @param {boolean} lost
   */
  _release(stream, upTo, lost) {
    if (stream.lastSeq === null || upTo <= stream.lastSeq) return;
    const seqs = [...stream.held.keys()].filter((seq) => seq <= upTo).sort((a, b) => a - b);
    for (const seq of seqs) {
      const frame = /** @type {Record<string, any> | null} */ (stream.held.get(seq));
      stream.held.delete(seq);
      if (seq <= stream.lastSeq) continue;
      if (lost && seq > stream.lastSeq + 1) this._discontinuity(stream, stream.lastSeq + 1, seq - 1);
      this._deliver(stream, seq, frame);
    }
    if (lost && upTo > stream.lastSeq) this._discontinuity(stream, stream.lastSeq + 1, upTo);
    stream.lastSeq = Math.max(stream.lastSeq, upTo);
  }

  /**
   * Tell the application that seqs fromSeq..toSeq of a room will never be delivered
   * (`toSeq` null: unknown, the server stopped numbering). The count carries on past them,
   * so each gap is reported once.
   * @param {RoomStream} stream
   * @param {number} fromSeq
   * @param {number | null} toSeq
   */
  _discontinuity(stream, fromSeq, toSeq) {
    if (toSeq !== null) stream.lastSeq = toSeq;
    this._emit('discontinuity', { type: 'discontinuity', roomId: stream.roomId, fromSeq, toSeq });
  }

  /**
   * Wait gapWaitMs (from when a gap is first seen, not restarted) for the frames of a gap,
   * then fill what is still missing from history.
   * @param {RoomStream} stream
   */
  _checkGap(stream) {
    if (stream.held.size === 0) {
      clearTimeout(stream.gapTimer);
      stream.gapTimer = null;
      return;
    }
    // The join ack, a running fill or the resume after a reconnect takes care of it.
    if (stream.lastSeq === null || stream.fill || this._state !== 'open') return;
    if (stream.gapTimer) return;
    stream.gapTimer = setTimeout(() => {
      stream.gapTimer = null;
      this._startFill(stream);
    }, this._opts.gapWaitMs);
  }

  /** @param {RoomStream} stream */
  _startFill(stream) {
    if (stream.fill || this._state !== 'open' || this._streams.get(stream.roomId) !== stream) return;
    clearTimeout(stream.gapTimer);
    stream.gapTimer = null;
    const fill = {};
    stream.fill = fill;
    this._fill(stream, fill).catch((err) => {
      if (stream.fill === fill) stream.fill = null;
      this._emit('error', err);
    });
  }

  /**
   * Page through getHistory from the last delivered seq until nothing is missing.
   * @param {RoomStream} stream
   * @param {object} fill identifies this run; halting the stream ends it
   */
  async _fill(stream, fill) {
    const current = () => stream.fill === fill && this._streams.get(stream.roomId) === stream;
    let stalls = 0; // consecutive pages or requests that made no progress
    try {
      while (current() && stream.lastSeq !== null) {
        if (stream.held.size === 0 && stream.known <= stream.lastSeq) return; // nothing missing
        const before = stream.lastSeq;
        /** @type {Record<string, any>} */
        let page;
        try {
          page = await this.request('getHistory', {
            roomId: stream.roomId,
            afterSeq: before,
            limit: HISTORY_PAGE_LIMIT,
          });
        } catch (caught) {
          const err = /** @type {ClientError} */ (caught); // request() rejects with nothing else
          if (!current() || err.code === 'disconnected') return; // the resume after reconnect fills it
          if (!RETRYABLE_HISTORY_ERRORS.has(err.code) || stalls >= HISTORY_RETRY.maxAttempts) {
            err.roomId = stream.roomId;
            this._emit('error', err);
            this._giveUp(stream);
            return;
          }
          await this._sleep(stream, Math.max(this._retryDelay(stalls), err.retryAfterMs ?? 0));
          stalls += 1;
          continue;
        }
        if (!current()) return;
        if (this._applyPage(stream, page) === 'off') return;
        const last = /** @type {number} */ (stream.lastSeq);
        if (page.hasMore === true && last > before) {
          stalls = 0; // progress, and more to come: the next page at once
          continue;
        }
        if (stream.held.size === 0 && stream.known <= last) return; // complete
        // No progress: an empty page with hasMore (a message still being written), a page
        // whose latestSeq lags behind afterSeq, or a last page that ends before the held
        // frames (written after it was read). Ask again shortly, a bounded number of times.
        if (stalls >= HISTORY_RETRY.maxAttempts) {
          this._giveUp(stream);
          return;
        }
        await this._sleep(stream, this._retryDelay(stalls));
        stalls += 1;
      }
    } finally {
      if (stream.fill === fill) {
        stream.fill = null;
        this._checkGap(stream); // frames newer than the last page may still wait for a gap
      }
    }
  }

  /**
   * Deliver one history page (merged with the held live frames, in seq order).
   * @param {RoomStream} stream
   * @param {Record<string, any>} page the getHistory ack
   * @returns {'off' | 'ok'}
   */
  _applyPage(stream, page) {
    const latest = page.latestSeq;
    if (!isSeq(latest) || latest === 0) {
      this._giveUp(stream); // history is off: nothing can be filled
      return 'off';
    }
    // A latestSeq below afterSeq is a lagging read, not a reset: the page brings nothing
    // (seqs above its latestSeq are not taken from it) and _fill asks again.
    stream.known = Math.max(stream.known, latest);
    const earliest = page.earliestSeq;
    if (isSeq(earliest) && earliest - 1 > /** @type {number} */ (stream.lastSeq)) {
      this._release(stream, earliest - 1, true); // expired from history
    }
    const messages = (Array.isArray(page.messages) ? page.messages : [])
      .filter((m) => m !== null && typeof m === 'object' && isSeq(m.seq) && m.seq > 0 && m.seq <= latest)
      .sort((a, b) => a.seq - b.seq);
    for (const message of messages) {
      if (message.seq <= /** @type {number} */ (stream.lastSeq)) continue;
      this._release(stream, message.seq - 1, false); // seqs the page skips were skipped
      stream.held.delete(message.seq);
      this._deliver(stream, message.seq, message);
    }
    if (!page.hasMore) this._release(stream, latest, false); // all up to latestSeq accounted for
    this._drain(stream);
    return 'ok';
  }

  /**
   * History cannot fill the gap: deliver what is held and report the rest.
   * @param {RoomStream} stream
   */
  _giveUp(stream) {
    this._release(stream, Math.max(stream.known, this._maxHeld(stream)), true);
  }

  /** @param {number} stalls */
  _retryDelay(stalls) {
    return Math.min(HISTORY_RETRY.maxDelayMs, HISTORY_RETRY.firstDelayMs * 2 ** stalls);
  }

  /**
   * A pause of a history fill that _haltStream() cuts short.
   * @param {RoomStream} stream
   * @param {number} ms
   * @returns {Promise<void>}
   */
  _sleep(stream, ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        stream.sleep = null;
        resolve();
      }, ms);
      stream.sleep = { timer, wake: resolve };
    });
  }

  /**
   * Stop the stream's gap wait and history fill (the connection dropped, the room was left).
   * Held frames stay for the resume.
   * @param {RoomStream} stream
   */
  _haltStream(stream) {
    clearTimeout(stream.gapTimer);
    stream.gapTimer = null;
    stream.fill = null;
    const sleep = stream.sleep;
    stream.sleep = null;
    if (sleep) {
      clearTimeout(sleep.timer);
      sleep.wake();
    }
  }

  /** @param {string} roomId */
  _forgetStream(roomId) {
    const stream = this._streams.get(roomId);
    if (!stream) return;
    this._haltStream(stream);
    this._streams.delete(roomId);
  }

  /** @param {RoomStream} stream */
  _maxHeld(stream) {
    let max = stream.lastSeq ?? 0;
    for (const seq of stream.held.keys()) max = Math.max(max, seq);
    return max;
  }

  /** @param {unknown} messageId */
  _markSeen(messageId) {
    if (typeof messageId !== 'string') return;
    this._seen.delete(messageId);
    this._seen.add(messageId);
    if (this._seen.size > SEEN_IDS_MAX)
      this._seen.delete(/** @type {string} */ (this._seen.values().next().value));
  }

  // ---- in-band token refresh ----------------------------------------------------------------

  /**
   * With a token provider, plan a `refreshToken` before the connection's token expires (its
   * JWT `exp`, read unverified). Without a provider, or a token without `exp`, nothing is
   * planned: the server closes the connection at expiry and the client reconnects (v1).
   * @param {string} token
   * @param {number} obtainedAt epoch ms when the provider returned it: the lifetime's start
   */
  _scheduleRefresh(token, obtainedAt) {
    clearTimeout(this._refreshTimer);
    this._refreshTimer = null;
    if (typeof this._opts.token !== 'function' || this._refreshUnsupported) return;
    const exp = jwtExpiryMs(token);
    if (exp === null || exp <= Date.now()) return;
    this._tokenExpMs = exp;
    const generation = this._generation;
    this._refreshTimer = setTimeout(
      () => {
        this._refreshTimer = null;
        if (generation !== this._generation) return;
        this._refresh(generation).catch((err) => this._emit('error', err));
      },
      Math.max(0, tokenRefreshTime(exp, obtainedAt) - Date.now()),
    );
  }

  /**
   * Send `refreshToken` with a fresh token, then plan the next one. Any failure (provider
   * error, no later token, a refusal such as `forbidden`) ends refreshing on this connection:
   * it keeps its old expiry, the server closes it then and the client reconnects with a
   * fresh token, as in v1. A v1 server (`unknown_action`) is never asked again.
   * @param {number} generation
   */
  async _refresh(generation) {
    let token;
    try {
      token = await /** @type {() => string | Promise<string>} */ (this._opts.token)();
      if (typeof token !== 'string' || token === '') throw new TypeError('token provider returned no token');
    } catch (err) {
      if (generation !== this._generation) return;
      this._emit(
        'error',
        new ClientError('token_error', `token provider failed: ${err instanceof Error ? err.name : 'Error'}`),
      );
      return;
    }
    if (generation !== this._generation || this._state !== 'open') return;
    const exp = jwtExpiryMs(token);
    if (exp !== null && exp <= this._tokenExpMs) return; // the provider still hands out the current token
    const obtainedAt = Date.now();
    let ack;
    try {
      ack = await this.request('refreshToken', { token });
    } catch (caught) {
      const err = /** @type {ClientError} */ (caught);
      if (generation !== this._generation || err.code === 'disconnected') return;
      if (err.code === 'unknown_action') {
        this._refreshUnsupported = true; // a v1 server: never asked again
      } else {
        this._emit('error', err); // e.g. forbidden: the old expiry stands
      }
      return;
    }
    if (generation !== this._generation) return;
    this._token = token;
    this._tokenAt = obtainedAt;
    this._emit('tokenRefreshed', { type: 'tokenRefreshed', expiresAt: ack.expiresAt });
    if (generation === this._generation && this._state === 'open') this._scheduleRefresh(token, obtainedAt);
  }

  /**
   * @param {string} requestId
   * @param {object | null} frame
   * @param {Error | null} error
   */
  _settle(requestId, frame, error) {
    const entry = this._pending.get(requestId);
    if (!entry) return;
    this._pending.delete(requestId);
    clearTimeout(entry.timer);
    if (error) entry.reject(error);
    else entry.resolve(frame);
  }

  /** @param {string} why */
  _rejectPending(why) {
    const entries = [...this._pending.values()];
    this._pending.clear();
    for (const entry of entries) {
      clearTimeout(entry.timer);
      entry.reject(new ClientError('disconnected', why));
    }
  }

  // ---- back-off after rate_limited ----------------------------------------------------------

  /**
   * The server refused a request of `action` for `retryAfterMs`: hold the next ones until
   * then (a later, longer refusal extends the hold). Held requests survive nothing that
   * rejects pending requests (a drop, close()); the hold itself outlives a reconnect.
   * @param {unknown} action
   * @param {number | undefined} retryAfterMs
   */
  _hold(action, retryAfterMs) {
    if (typeof action !== 'string' || !(retryAfterMs !== undefined && retryAfterMs > 0)) return;
    const until = Date.now() + retryAfterMs;
    const current = this._holds.get(action);
    if (current && current.until >= until) return;
    clearTimeout(current?.timer);
    const timer = setTimeout(() => this._releaseHold(action), retryAfterMs);
    this._holds.set(action, { until, timer });
  }

  /** @param {string} action */
  _releaseHold(action) {
    this._holds.delete(action);
    for (const entry of [...this._pending.values()]) {
      if (entry.action === action && entry.send) entry.send();
    }
  }

  _clearHolds() {
    for (const { timer } of this._holds.values()) clearTimeout(timer);
    this._holds.clear();
  }

  /** @param {ClientError} error */
  _failConnectWaiters(error) {
    const waiters = this._connectWaiters.splice(0);
    for (const w of waiters) w.reject(error);
  }

  /**
   * @param {import('./wsclient.js').ConnectionState} state
   * @param {Record<string, unknown>} [info]
   */
  _setState(state, info = {}) {
    const previous = this._state;
    this._state = state;
    this._emit('state', { ...info, state, previous });
  }

  /** @param {string} type */
  _listenersOf(type) {
    const set = this._listeners.get(type);
    if (!set)
      throw new TypeError(`unknown event type ${JSON.stringify(type)}; one of ${EVENT_TYPES.join(', ')}`);
    return set;
  }

  /**
   * A throwing listener must not break the client: its error goes to `error` listeners.
   * @param {string} type
   * @param {unknown} payload
   */
  _emit(type, payload) {
    for (const fn of [...this._listenersOf(type)]) {
      try {
        fn(payload);
      } catch (err) {
        if (type === 'error') console.error('wsclient: error listener threw', err);
        else this._emit('error', err);
      }
    }
  }
}

/**
 * Create a client and wait until it is connected.
 * @param {string} url
 * @param {import('./wsclient.js').ClientOptions} options
 * @returns {Promise<WsClient>}
 */
export async function connect(url, options) {
  const client = new WsClient(url, options);
  await client.connect();
  return client;
}
