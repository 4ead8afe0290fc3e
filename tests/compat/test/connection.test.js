'use strict';
// Connection-level behaviour seen through pusher-js (soketi tests/ws.test.ts #6-#8), plus
// reconnection after a server restart.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

// How long a refused client is watched to make sure it never reaches `connected`.
const NEVER_MS = 1500;

/** Asserts that `p` did not reach `connected` within `ms`, and returns its error codes. */
async function assertNeverConnects(p, ms = NEVER_MS) {
  await h.sleep(ms);
  assert.ok(!p.states.includes('connected'), `never connected (states: ${p.states.join(' → ')})`);
  assert.ok(
    ['failed', 'unavailable', 'disconnected', 'connecting'].includes(p.connection.state),
    `state ${p.connection.state}`,
  );
  return p.errorCodes;
}

describe('connection', () => {
  const ctx = h.withServer();

  it('connects with the default app and gets a socket id', async () => {
    const p = h.client(ctx.server);
    await h.connected(p);
    assert.match(p.connection.socket_id, /^\d+\.\d+$/);
  });

  it('an invalid app key never reaches connected (4001)', async () => {
    const p = h.client(ctx.server, { key: 'no-such-key' });
    const codes = await assertNeverConnects(p);
    assert.ok(codes.includes(4001), `expected error 4001, got ${JSON.stringify(codes)}`);
    // 4000-4099 means "do not reconnect" to pusher-js.
    assert.ok(['disconnected', 'failed'].includes(p.connection.state), `state ${p.connection.state}`);
  });
});

describe('connection quota (SOKETI_DEFAULT_APP_MAX_CONNS=1)', () => {
  const ctx = h.withServer({ env: { SOKETI_DEFAULT_APP_MAX_CONNS: '1' } });

  it('a second client never connects (4100)', async () => {
    const first = h.client(ctx.server);
    await h.connected(first);
    const second = h.client(ctx.server);
    const codes = await assertNeverConnects(second);
    assert.ok(codes.includes(4100), `expected error 4100, got ${JSON.stringify(codes)}`);
    assert.equal(first.connection.state, 'connected', 'the first client is unaffected');
  });
});

describe('disabled app (config file enabled:false)', () => {
  const ctx = h.withServer({
    config: {
      'appManager.array.apps': [
        { id: 'app-id', key: 'app-key', secret: 'app-secret', enabled: false },
      ],
    },
  });

  it('never connects (4003)', async () => {
    const p = h.client(ctx.server);
    const codes = await assertNeverConnects(p);
    assert.ok(codes.includes(4003), `expected error 4003, got ${JSON.stringify(codes)}`);
  });
});

describe('server restart', () => {
  const ctx = h.withServer();

  it('pusher-js reconnects and resubscribes after the server restarts on the same port', async () => {
    const { ch, p, channel } = await ctx.subscribeFresh();
    const firstId = p.connection.socket_id;

    await ctx.server.restart();
    // soketi (and fanoutd) tell every socket 4200 "Server closed. Please reconnect shortly."
    assert.ok(p.errorCodes.includes(4200), `expected 4200 at shutdown, got ${JSON.stringify(p.errorCodes)}`);
    // pusher-js retries at once on 4200, finds the port closed, and then only tries again
    // after its transport timeout (15 s, hard-coded in pusher-js's default strategy).
    await h.eventually(() => p.connection.state === 'connected' && p.connection.socket_id !== firstId, {
      ms: 20000,
      every: 100,
    });
    // Resubscribed: a backend event on the channel arrives again.
    const rest = h.backend(ctx.server);
    await h.eventually(
      async () => (await h.getJson(rest, `/channels/${ch}`)).subscription_count === 1,
      { ms: 5000 },
    );
    assert.deepEqual(
      await h.triggered(rest, channel, 'greeting', { message: 'hello again' }),
      { message: 'hello again' },
    );
  });
});
