// Without a WebSocket implementation the constructor says how to get one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { WsClient } from '../wsclient.js';

describe('no WebSocket implementation', () => {
  it('throws a TypeError naming the three ways to fix it', () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'WebSocket');
    delete globalThis.WebSocket;
    try {
      assert.throws(
        () => new WsClient('ws://127.0.0.1:3001/dev', { token: 't' }),
        (err) =>
          err instanceof TypeError &&
          err.message.includes('Node >= 22') &&
          err.message.includes('--experimental-websocket') &&
          err.message.includes('npm install ws') &&
          err.message.includes('WebSocket: (await import(\'ws\')).WebSocket'),
      );
    } finally {
      if (saved) Object.defineProperty(globalThis, 'WebSocket', saved);
    }
  });
});
