// Types for wsclient.js (protocol v1.1, works with v1 servers). Hand-written; keep in step with the
// JSDoc there.

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export type ProtocolErrorCode =
  | 'invalid_json'
  | 'unknown_action'
  | 'invalid_request'
  | 'forbidden'
  | 'not_member'
  | 'payload_too_large'
  | 'rate_limited'
  | 'internal_error';

/** Protocol codes, plus the client's own: no reply in time, socket gone, token provider failed... */
export type ClientErrorCode =
  | ProtocolErrorCode
  | 'timeout'
  | 'disconnected'
  | 'token_error'
  | 'invalid_url'
  | 'invalid_frame'
  | (string & {});

/**
 * A JWT, or a function returning one: called on every (re)connect, and before the token
 * expires to refresh it in band (`refreshToken`) without reconnecting.
 */
export type TokenSource = string | (() => string | Promise<string>);

/** The subset of the WHATWG WebSocket the client uses (browsers, Node 22+, the `ws` package). */
export interface WebSocketLike {
  readonly readyState: number;
  // The client assigns these handlers; typed loosely so that browser, undici (Node 22+) and
  // `ws` sockets, whose event types differ, all fit.
  onopen: any;
  onmessage: any;
  onclose: any;
  onerror: any;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ClientOptions {
  /**
   * JWT, or a function returning one, called on every (re)connect so it can be refreshed; a
   * function is also called shortly before the connection's token expires, and the fresh
   * token is sent with `refreshToken` (see `tokenRefreshed`).
   */
  token: TokenSource;
  /** Defaults to globalThis.WebSocket; on Node 20 pass `WebSocket` from `ws`. */
  WebSocket?: WebSocketConstructor;
  /** Default 300000 (5 min); 1..480000, well under the 10-minute idle timeout. */
  heartbeatIntervalMs?: number;
  /** Default 10000. */
  requestTimeoutMs?: number;
  /** Full-jitter backoff: delay n is uniform in [0, min(backoffCapMs, backoffBaseMs * 2^n)). Default 500. */
  backoffBaseMs?: number;
  /** Default 30000. */
  backoffCapMs?: number;
  /** Consecutive failed attempts before giving up; 0 disables reconnects. Default Infinity. */
  maxReconnectAttempts?: number;
  /** Frames larger than this (UTF-8 bytes) are refused locally with payload_too_large. Default 32768. */
  maxMessageBytes?: number;
  /**
   * How long a numbered frame that skips ahead waits for the late frames before the gap is
   * filled from history. Default 1000.
   */
  gapWaitMs?: number;
  /** Which close codes stop reconnecting. Default: isTerminalCloseCode (1008 and 4000-4999). */
  isTerminalClose?: (code: number) => boolean;
  /** Random source in [0, 1) for the jitter (tests inject one). Default Math.random. */
  random?: () => number;
}

export interface AckFrame {
  type: 'ack';
  action: string;
  requestId: string;
  [field: string]: unknown;
}

export interface ErrorFrame {
  type: 'error';
  action: string | null;
  requestId: string | null;
  code: string;
  message: string;
  /** rate_limited: how long to wait before retrying, when the server says. */
  retryAfterMs?: number;
}

export interface UserRef {
  userId: string;
}

/** A page of users online (joinRoom `members`, getPresence `users`): how many, and more to come. */
export interface UserPageFields {
  /** v1.1, a room: how many users are online in it (each user once, whatever their connections). */
  memberCount?: number;
  /** v1.1: more users follow; pass it as `cursor` to getPresence for the next page. */
  nextCursor?: string;
  /** More users follow (v1: beyond the first 500, with no way to fetch them). */
  truncated?: boolean;
}

export interface JoinRoomOptions {
  /** v1.1: users in the ack's first page of `members`, 1..500; server default 100. */
  limit?: number;
}

export interface JoinRoomAck extends AckFrame, UserPageFields {
  action: 'joinRoom';
  roomId: string;
  /** The first page of the users online in the room, in user id order. */
  members: UserRef[];
  /** v1.1: the room's latest seq when joined (0: no numbered message, or history off). */
  latestSeq?: number;
}

export interface LeaveRoomAck extends AckFrame {
  action: 'leaveRoom';
  roomId: string;
}

export interface SendMessageAck extends AckFrame {
  action: 'sendMessage';
  roomId: string;
  messageId: string;
  /** v1.1: the message's seq; absent when ephemeral or history is off. */
  seq?: number;
}

export interface SendMessageOptions {
  /** Not numbered, not stored, best effort (cursor positions, prices). */
  ephemeral?: boolean;
}

export interface GetHistoryOptions {
  /** Messages with seq > afterSeq (integer >= 0); omitted: the latest `limit`. */
  afterSeq?: number;
  /** 1..100, server default 50. */
  limit?: number;
}

export interface HistoryAck extends AckFrame {
  action: 'getHistory';
  roomId: string;
  /** The stored frames, exactly as delivered (with seq), ascending. */
  messages: Array<MessageEvent | PublishEvent>;
  latestSeq: number;
  /** The oldest seq still retained (latestSeq + 1 when none is). */
  earliestSeq: number;
  /** More frames after the last one returned: ask again with afterSeq = its seq. */
  hasMore: boolean;
}

export interface HeartbeatAck extends AckFrame {
  action: 'heartbeat';
  serverTime: string | number;
}

export interface GetPresenceOptions {
  /** v1.1: the `nextCursor` of the previous page. */
  cursor?: string;
  /** v1.1: users per page, 1..500; server default 100. */
  limit?: number;
}

export interface PresenceAck extends AckFrame, UserPageFields {
  action: 'getPresence';
  /** Given for a room; absent for the whole tenant. */
  roomId?: string;
  /** One page of the users online, in user id order. */
  users: UserRef[];
}

/** presenceAll(): every page's users. */
export interface PresenceList {
  userIds: string[];
  /** A room's count, from the last page (v1.1); absent for the tenant or from a v1 server. */
  memberCount?: number;
}

export interface RefreshTokenAck extends AckFrame {
  action: 'refreshToken';
  /** ISO 8601 UTC. */
  expiresAt: string;
}

export interface MessageEvent {
  type: 'message';
  roomId: string;
  messageId: string;
  /** v1.1: the room's sequence number; absent for ephemeral messages and with history off. */
  seq?: number;
  from: UserRef;
  data: unknown;
  sentAt: string;
}

/** A user came online in a room (first connection joined) or went offline (last one left). */
export interface PresenceTransition {
  type: 'presence';
  roomId: string;
  event: 'join' | 'leave';
  userId: string;
}

/**
 * v1.1, rooms above the server's coalescing threshold: at most one frame per room per
 * interval with the net change since the room's previous such frame (a user who joined and
 * left within the interval is in neither list; a large change may come as several frames).
 * Apply it as set operations.
 */
export interface PresenceCoalesced {
  type: 'presence';
  roomId: string;
  joined: string[];
  left: string[];
}

/** A `presence` frame as the server sent it: tell the two forms apart by `event` / `joined`. */
export type PresenceEvent = PresenceTransition | PresenceCoalesced;

/** presenceChanges(): what a presence frame of either form changes. */
export interface PresenceChanges {
  roomId: string;
  /** Add these user ids to the room's set. */
  joined: string[];
  /** Remove these. */
  left: string[];
}

export interface PublishEvent {
  type: 'event';
  target: Record<string, unknown>;
  event: string;
  /** v1.1: the de-duplication key. */
  messageId?: string;
  /** v1.1: room-targeted events share the room's sequence with messages. */
  seq?: number;
  data: unknown;
}

/**
 * The seqs fromSeq..toSeq of a room will never be delivered (expired from history, history
 * is off, the retries ran out or getHistory was refused); delivery carries on after them.
 * `toSeq` is null when a rejoin's latestSeq is 0 while the last delivered seq is not (the
 * server stopped numbering the room, or reset it): anything after fromSeq may be missing.
 * Reported once per gap.
 */
export interface Discontinuity {
  /** The event's name, like the `type` of server frames. */
  type: 'discontinuity';
  roomId: string;
  fromSeq: number;
  toSeq: number | null;
}

export interface TokenRefreshed {
  /** The event's name, like the `type` of server frames. */
  type: 'tokenRefreshed';
  /** The connection's new expiry from the refreshToken ack (ISO 8601 UTC). */
  expiresAt: string;
}

export interface StateChange {
  state: ConnectionState;
  previous: ConnectionState;
  /** Close code of the socket that dropped (reconnecting / closed). */
  code?: number;
  reason?: string;
  /** reconnecting: 1-based attempt number and the delay before it. */
  attempt?: number;
  delayMs?: number;
  /** closed: why it stopped. */
  byUser?: boolean;
  terminal?: boolean;
  gaveUp?: boolean;
}

export interface ClientEvents {
  message: MessageEvent;
  presence: PresenceEvent;
  event: PublishEvent;
  state: StateChange;
  error: ClientError | Error;
  /** A remembered room was rejoined after a reconnect; carries the joinRoom ack (members). */
  rejoin: JoinRoomAck;
  /** Messages of a room that can no longer be delivered: reload the room's state. */
  discontinuity: Discontinuity;
  /** The token was refreshed in band; the connection lives on until the new expiry. */
  tokenRefreshed: TokenRefreshed;
}

export declare const PROTOCOL_ERROR_CODES: readonly ProtocolErrorCode[];
export declare const IDLE_TIMEOUT_MS: number;
export declare const MAX_HEARTBEAT_INTERVAL_MS: number;
/** Page size of the client's own getHistory calls. */
export declare const HISTORY_PAGE_LIMIT: number;
/**
 * Pauses of a history fill that makes no progress (an empty page with hasMore, a page whose
 * latestSeq is below afterSeq, a last page that ends before the held frames; a timeout,
 * internal_error or rate_limited reply), and how many in a row before the gap is reported.
 */
export declare const HISTORY_RETRY: Readonly<{
  firstDelayMs: number;
  maxDelayMs: number;
  maxAttempts: number;
}>;
export declare const TOKEN_REFRESH_LEAD_MS: number;
export declare const TOKEN_REFRESH_FRACTION: number;
export declare const DEFAULTS: Readonly<
  Required<Omit<ClientOptions, 'token' | 'WebSocket' | 'isTerminalClose' | 'random'>>
>;

export declare function isTerminalCloseCode(code: number): boolean;
export declare function backoffDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  random?: () => number,
): number;
/** The claims of a JWT, read without verifying it; null when it is not a decodable JWT. */
export declare function decodeJwtPayload(token: string): Record<string, unknown> | null;
/**
 * When to refresh a token (epoch ms): TOKEN_REFRESH_LEAD_MS before expMs or at
 * TOKEN_REFRESH_FRACTION of the lifetime, whichever is sooner, never before half the lifetime.
 */
export declare function tokenRefreshTime(expMs: number, startMs: number): number;
/**
 * What a `presence` frame changes, for either form (a v1 join/leave transition, or a v1.1
 * coalesced frame of a large room): add `joined`, remove `left`.
 */
export declare function presenceChanges(frame: PresenceEvent): PresenceChanges;

export declare class ClientError extends Error {
  constructor(
    code: string,
    message: string,
    details?: { frame?: Record<string, any>; closeCode?: number; roomId?: string },
  );
  readonly code: ClientErrorCode;
  /** The error frame, for protocol errors. */
  readonly frame?: ErrorFrame;
  /** The socket close code, when a close caused the error. */
  readonly closeCode?: number;
  /** The room, for a failed rejoin or history fill. */
  roomId?: string;
  /** rate_limited: the wait the server asked for, when it gave one. */
  readonly retryAfterMs?: number;
}

export declare class WsClient {
  constructor(url: string, options: ClientOptions);
  readonly state: ConnectionState;
  /** Rooms that will be rejoined after a reconnect. */
  readonly rooms: string[];
  connect(): Promise<void>;
  /**
   * Send a request and resolve with its ack. After a `rate_limited` reply carrying
   * `retryAfterMs`, requests of the same action are held, in order, until that time has
   * passed (their timeout counts from the sending); nothing is ever resent by itself.
   */
  request<T extends AckFrame = AckFrame>(
    action: string,
    fields?: Record<string, unknown>,
    options?: { timeoutMs?: number },
  ): Promise<T>;
  /** The ack's `members` is the first page; `nextCursor` (v1.1) when more follow. */
  joinRoom(roomId: string, options?: JoinRoomOptions): Promise<JoinRoomAck>;
  leaveRoom(roomId: string): Promise<LeaveRoomAck>;
  /** Rejects with `rate_limited` (and `retryAfterMs`) over the server's limits; see request(). */
  sendMessage(roomId: string, data: unknown, options?: SendMessageOptions): Promise<SendMessageAck>;
  /** One page of stored messages, for the application's own use; delivery does not depend on it. */
  getHistory(roomId: string, options?: GetHistoryOptions): Promise<HistoryAck>;
  /** One page of users online in a room, or the whole tenant (roomId omitted or null). */
  getPresence(roomId?: string | null, options?: GetPresenceOptions): Promise<PresenceAck>;
  /**
   * Every page of getPresence, following nextCursor to the end (from `cursor` when given, e.g.
   * a joinRoom ack's nextCursor).
   */
  presencePages(
    roomId?: string | null,
    options?: GetPresenceOptions,
  ): AsyncGenerator<PresenceAck, void, undefined>;
  /** Every user online in a room (or the tenant), all pages fetched. */
  presenceAll(roomId?: string | null, options?: GetPresenceOptions): Promise<PresenceList>;
  heartbeat(): Promise<HeartbeatAck>;
  on<K extends keyof ClientEvents>(type: K, fn: (payload: ClientEvents[K]) => void): () => void;
  off<K extends keyof ClientEvents>(type: K, fn: (payload: ClientEvents[K]) => void): void;
  close(code?: number, reason?: string): void;
}

export declare function connect(url: string, options: ClientOptions): Promise<WsClient>;
