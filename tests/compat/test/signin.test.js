'use strict';
// User authentication (soketi tests/ws.test.ts #14-#17, private #6, presence #8, http-api
// #18-#19) with pusher-js `signin()` and userAuthentication.customHandler signing locally with
// `pusher.authenticateUser()`. The app has user authentication on with a 2 s timeout.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const TIMEOUT_MS = 2000;
// Past the timeout, with room for scheduling.
const PAST_TIMEOUT_MS = TIMEOUT_MS + 1000;

/** A client that signs in as user '1' and resolves once `pusher:signin_success` arrives. */
async function signedIn(server, opts = {}) {
  const p = h.client(server, opts);
  const success = h.waitEvent(p, 'pusher:signin_success');
  p.signin();
  const data = await success;
  await p.user.signinDonePromise;
  return [p, data];
}

describe('user authentication (enableUserAuthentication, timeout 2 s)', () => {
  const ctx = h.withServer({
    env: {
      SOKETI_DEFAULT_APP_USER_AUTHENTICATION: 'true',
      SOKETI_USER_AUTHENTICATION_TIMEOUT: String(TIMEOUT_MS),
    },
  });

  it('signin() gets pusher:signin_success and the socket outlives the timeout', async () => {
    const [p, data] = await signedIn(ctx.server);
    assert.equal(JSON.parse(data.user_data).id, '1');
    assert.equal(typeof data.auth, 'string');
    assert.equal(p.user.user_data.id, '1');
    await h.sleep(PAST_TIMEOUT_MS);
    assert.equal(p.connection.state, 'connected');
    assert.deepEqual(p.errorCodes, []);
  });

  it('sendToUser reaches the signed-in user', async () => {
    const [p] = await signedIn(ctx.server);
    const other = h.client(ctx.server, { user: { id: '2', name: 'Alice' } });
    const otherSuccess = h.waitEvent(other, 'pusher:signin_success');
    other.signin();
    await otherSuccess;
    const otherGot = h.collect(other.user, 'my-event');

    const got = h.waitEvent(p.user, 'my-event');
    await ctx.rest.sendToUser('1', 'my-event', { message: 'hello', weirdVariable: 'abc/d' });
    assert.deepEqual(await got, { message: 'hello', weirdVariable: 'abc/d' });
    await h.sleep(200);
    assert.equal(otherGot.length, 0, "user 2 does not get user 1's message");
  });

  it('terminateUserConnections sends 4009 and disconnects every socket of the user', async () => {
    const [a] = await signedIn(ctx.server);
    const [b] = await signedIn(ctx.server);
    const bystander = h.client(ctx.server, { user: { id: '2', name: 'Alice' } });
    const bystanderSuccess = h.waitEvent(bystander, 'pusher:signin_success');
    bystander.signin();
    await bystanderSuccess;

    const errA = h.waitEvent(a, 'pusher:error');
    const errB = h.waitEvent(b, 'pusher:error');
    await ctx.rest.terminateUserConnections('1');
    assert.equal((await errA).code, 4009);
    assert.equal((await errB).code, 4009);
    // 4000-4099 closes mean "do not reconnect" to pusher-js.
    await h.eventually(() => a.connection.state !== 'connected' && b.connection.state !== 'connected');
    await h.sleep(300);
    assert.ok(['disconnected', 'failed'].includes(a.connection.state), a.connection.state);
    assert.equal(bystander.connection.state, 'connected', 'other users are not touched');
  });

  it('a client that never signs in gets 4009 after the timeout', async () => {
    const p = h.client(ctx.server);
    await h.connected(p);
    const err = await h.waitEvent(p, 'pusher:error', { ms: TIMEOUT_MS + 3000 });
    assert.equal(err.code, 4009);
    assert.equal(err.message, 'Connection not authorized within timeout.');
    await h.eventually(() => p.connection.state !== 'connected');
    assert.ok(['disconnected', 'failed'].includes(p.connection.state), p.connection.state);
  });

  // A deadline kept on a whole-second clock once fired 1.0-2.0 s after connect for a 2000 ms
  // timeout (fixed in 16eeb41, "exact timers"). fanoutd checks timers in a once-a-second
  // sweep, so the 4009 may come up to ~1 s after the timeout, but never before it.
  it('the 4009 never comes before the configured timeout', async () => {
    // Three clients, connected a third of a second apart, so that a clock with a coarse
    // granularity cannot hide behind a lucky phase.
    const one = async () => {
      const p = h.client(ctx.server);
      await h.connected(p);
      const started = Date.now();
      const err = await h.waitEvent(p, 'pusher:error', { ms: TIMEOUT_MS + 3000 });
      assert.equal(err.code, 4009);
      return Date.now() - started;
    };
    const runs = [];
    for (let i = 0; i < 3; i++) {
      runs.push(one());
      await h.sleep(333);
    }
    const elapsed = await Promise.all(runs);
    // connection_established reaches the client a few ms after the server's timer starts.
    for (const ms of elapsed) {
      assert.ok(
        ms >= TIMEOUT_MS - 50 && ms <= TIMEOUT_MS + 1200,
        `4009 after ${elapsed.join(' / ')} ms, timeout is ${TIMEOUT_MS} ms`,
      );
    }
  });

  it('a bad signin signature gets 4009 at once', async () => {
    const p = h.client(ctx.server, {
      userAuth: () => ({ auth: 'app-key:fail-on-purpose', user_data: JSON.stringify({ id: '1' }) }),
    });
    await h.connected(p);
    const started = Date.now();
    const err = h.waitEvent(p, 'pusher:error');
    p.signin();
    assert.equal((await err).code, 4009);
    assert.ok(Date.now() - started < TIMEOUT_MS, 'answered by the signin, not by the timeout');
  });

  it('joining a private channel right away also satisfies the timeout', async () => {
    const p = h.client(ctx.server);
    await h.subscribed(p, h.channelName('private-'));
    await h.sleep(PAST_TIMEOUT_MS);
    assert.equal(p.connection.state, 'connected');
    assert.deepEqual(p.errorCodes, []);
  });

  it('joining a presence channel right away also satisfies the timeout', async () => {
    const p = h.client(ctx.server);
    await h.subscribed(p, h.channelName('presence-'));
    await h.sleep(PAST_TIMEOUT_MS);
    assert.equal(p.connection.state, 'connected');
    assert.deepEqual(p.errorCodes, []);
  });
});
