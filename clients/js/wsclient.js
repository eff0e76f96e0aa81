// WebSocket client for the serverless WebSocket platform, protocol v1.
//
// One ES module, no dependencies, no build step. Works in browsers and in Node >= 20 given a
// WebSocket implementation (Node 22+ has `globalThis.WebSocket`; on Node 20 pass
// `WebSocket` from the `ws` package). See docs/CLIENTS.md for the semantics.

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
});

const EVENT_TYPES = Object.freeze(['message', 'presence', 'event', 'state', 'error', 'rejoin']);
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
   * @param {{frame?: object, closeCode?: number, roomId?: string}} [details]
   */
  constructor(code, message, details = {}) {
    super(message);
    this.name = 'ClientError';
    this.code = code;
    this.frame = details.frame;
    this.closeCode = details.closeCode;
    this.roomId = details.roomId;
  }
}

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

/** A protocol v1 client: reconnects, heartbeats, rejoins rooms and correlates requests. */
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
    /** @type {Map<string, {resolve: Function, reject: Function, timer: any}>} */
    this._pending = new Map();
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
      const timer = setTimeout(() => {
        this._pending.delete(requestId);
        reject(new ClientError('timeout', `${action} got no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this._pending.set(requestId, { resolve, reject, timer });
      try {
        socket.send(text);
      } catch (err) {
        this._settle(requestId, null, new ClientError('disconnected', `send failed: ${err}`));
      }
    });
  }

  /**
   * Join a room; it is remembered (and rejoined after reconnects) once the server acks.
   * @param {string} roomId
   */
  async joinRoom(roomId) {
    const ack = await this.request('joinRoom', { roomId });
    this._rooms.add(roomId);
    return ack;
  }

  /**
   * Leave a room. It is forgotten at once, so a failed leave is never undone by a rejoin.
   * @param {string} roomId
   */
  leaveRoom(roomId) {
    this._rooms.delete(roomId);
    return this.request('leaveRoom', { roomId });
  }

  /**
   * @param {string} roomId
   * @param {unknown} data any JSON value
   */
  sendMessage(roomId, data) {
    return this.request('sendMessage', { roomId, data });
  }

  /** @param {string} [roomId] omitted: the whole tenant */
  getPresence(roomId) {
    return this.request('getPresence', roomId === undefined ? {} : { roomId });
  }

  heartbeat() {
    return this.request('heartbeat');
  }

  /**
   * Subscribe to `message`, `presence`, `event`, `state`, `error` or `rejoin`.
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
    this._stopHeartbeat();
    const socket = this._detachSocket();
    if (socket) {
      try {
        socket.close(code, reason);
      } catch {
        // already closing; nothing left to release
      }
    }
    this._rejectPending('client closed');
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
    const waiters = this._connectWaiters.splice(0);
    for (const w of waiters) w.resolve();
    for (const roomId of this._rooms) this._rejoin(roomId);
  }

  /** @param {string} roomId */
  _rejoin(roomId) {
    this.request('joinRoom', { roomId }).then(
      (ack) => this._emit('rejoin', ack),
      (err) => {
        // A refusal (forbidden, invalid_request...) is final; a drop or timeout is retried
        // on the next reconnect. A drop is reported by the state change, not here.
        if (err.code === 'disconnected') return;
        if (err.code !== 'timeout') this._rooms.delete(roomId);
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
    this._stopHeartbeat();
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
    this._stopHeartbeat();
    this._detachSocket();
    this._rejectPending(error.message);
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
      if (typeof requestId === 'string' && this._pending.has(requestId)) {
        this._settle(requestId, frame, error);
      } else if (error) {
        this._emit('error', error); // e.g. invalid_json, which cannot echo a requestId
      }
      return;
    }
    if (type === 'message' || type === 'presence' || type === 'event') this._emit(type, frame);
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
