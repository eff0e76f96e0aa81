// A scripted stand-in for the WHATWG WebSocket: no network, the test plays the server.

/**
 * A fresh fake class per test, so sockets from one test never leak into another.
 * @returns {typeof FakeSocketBase & {instances: FakeSocketBase[], last: () => FakeSocketBase}}
 */
export function makeFakeWebSocket() {
  class FakeWebSocket extends FakeSocketBase {
    static instances = [];

    static last() {
      return FakeWebSocket.instances.at(-1);
    }

    constructor(url) {
      super(url);
      FakeWebSocket.instances.push(this);
    }
  }
  return FakeWebSocket;
}

export class FakeSocketBase {
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    /** Frames the client sent, parsed. */
    this.sent = [];
    /** Set when the client called close(). */
    this.closedWith = null;
    this.onopen = null;
    this.onmessage = null;
    this.onclose = null;
    this.onerror = null;
  }

  send(text) {
    if (this.readyState !== 1) throw new Error('InvalidStateError: socket not open');
    this.sent.push(JSON.parse(text));
  }

  close(code, reason) {
    this.closedWith = { code, reason };
    this.readyState = 2;
  }

  // ---- the server side, driven by the tests ----

  /** The handshake succeeded. */
  accept() {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** The handshake failed (e.g. the authorizer said 401): browsers report error then 1006. */
  refuse() {
    this.readyState = 3;
    this.onerror?.({});
    this.onclose?.({ code: 1006, reason: '' });
  }

  /** @param {object | string} frame */
  deliver(frame) {
    this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }

  /** Close from the server (or the network) side. */
  drop(code = 1006, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /** The last frame the client sent with this action. */
  lastSent(action) {
    return this.sent.filter((f) => f.action === action).at(-1);
  }

  /** Ack a frame the client sent, echoing action and requestId per protocol v1. */
  ack(frame, fields = {}) {
    this.deliver({ type: 'ack', action: frame.action, requestId: frame.requestId, ...fields });
  }

  /** Answer a frame with a protocol v1 error frame. */
  fail(frame, code, message = code) {
    this.deliver({ type: 'error', action: frame.action, requestId: frame.requestId, code, message });
  }
}
