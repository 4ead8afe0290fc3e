'use strict';
// Client events (soketi tests/ws.test.ts #1-#5) through pusher-js `channel.trigger()`.
// pusher-js surfaces a `pusher:error` frame three ways: `pusher.bind('pusher:error', data)`
// (global emitter), `channel.bind('pusher:error', data)` when the frame names a channel, and
// `pusher.connection.bind('error', {type:'PusherError', data})`. The tests use the first and
// check the others agree.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const JOHN = { user_id: 1, user_info: { id: 1, name: 'John' } };
const ALICE = { user_id: 2, user_info: { id: 2, name: 'Alice' } };

/** Two clients subscribed to `ch`; resolves [receiver, receiverCh, sender, senderCh]. */
async function pair(server, ch, receiverOpts = {}, senderOpts = {}) {
  const receiver = h.client(server, receiverOpts);
  const receiverCh = await h.subscribed(receiver, ch);
  const sender = h.client(server, senderOpts);
  const senderCh = await h.subscribed(sender, ch);
  return [receiver, receiverCh, sender, senderCh];
}

/** Triggers `event` from `sender` and expects a 4301 pusher:error that the receiver never sees. */
async function expectRejected4301(sender, senderCh, receiverCh, event, data) {
  const globalErr = h.waitEvent(sender, 'pusher:error');
  const channelErr = h.waitEvent(senderCh, 'pusher:error');
  const received = h.collect(receiverCh, event);
  senderCh.trigger(event, data);
  const err = await globalErr;
  assert.equal(err.code, 4301);
  assert.equal(typeof err.message, 'string');
  assert.equal((await channelErr).code, 4301, 'the error names the channel');
  assert.ok(sender.errorCodes.includes(4301), 'connection error event carries 4301');
  await h.sleep(200);
  assert.equal(received.length, 0, 'not delivered');
  assert.equal(sender.connection.state, 'connected', '4301 does not close the connection');
}

describe('client events enabled (SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES=true)', () => {
  const ctx = h.withServer({
    env: {
      SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES: 'true',
      SOKETI_EVENT_MAX_NAME_LENGTH: '25',
      SOKETI_EVENT_MAX_SIZE_IN_KB: '1',
    },
  });

  it('private channel: reaches the other client, not the sender', async () => {
    const ch = h.channelName('private-');
    const [, receiverCh, , senderCh] = await pair(ctx.server, ch);
    const got = h.waitEvent(receiverCh, 'client-greeting');
    const echoed = h.collect(senderCh, 'client-greeting');
    senderCh.trigger('client-greeting', { message: 'hello', weirdVariable: 'abc/d' });
    assert.deepEqual(await got, { message: 'hello', weirdVariable: 'abc/d' });
    await h.sleep(200);
    assert.equal(echoed.length, 0, 'the sender does not get its own client event');
  });

  it('presence channel: the receiver gets metadata.user_id of the sender', async () => {
    const ch = h.channelName('presence-');
    const [, receiverCh, , senderCh] = await pair(ctx.server, ch, { presence: JOHN }, { presence: ALICE });
    const got = h.waitEvent(receiverCh, 'client-greeting', { withMeta: true });
    senderCh.trigger('client-greeting', { message: 'hello' });
    const { data, meta } = await got;
    assert.deepEqual(data, { message: 'hello' });
    assert.strictEqual(meta.user_id, 2);
  });

  // docs/compat.md, client-events: client events only on private / presence channels (soketi
  // also accepts them on public channels).
  it('public channel: rejected with 4301', async () => {
    const ch = h.channelName();
    const [, receiverCh, sender, senderCh] = await pair(ctx.server, ch);
    await expectRejected4301(sender, senderCh, receiverCh, 'client-greeting', { message: 'hello' });
  });

  it('event name over eventLimits.maxNameLength (25): 4301, not delivered', async () => {
    const ch = h.channelName('private-');
    const [, receiverCh, sender, senderCh] = await pair(ctx.server, ch);
    const name = `client-${'a'.repeat(19)}`; // 26 characters
    assert.equal(name.length, 26);
    await expectRejected4301(sender, senderCh, receiverCh, name, { message: 'hello' });
  });

  it('payload over eventLimits.maxPayloadInKb (1): 4301, not delivered', async () => {
    const ch = h.channelName('private-');
    const [, receiverCh, sender, senderCh] = await pair(ctx.server, ch);
    await expectRejected4301(sender, senderCh, receiverCh, 'client-greeting', { message: 'x'.repeat(2048) });
  });
});

describe('client events disabled (default)', () => {
  const ctx = h.withServer();

  it('the sender gets pusher:error 4301 and the receiver nothing', async () => {
    const ch = h.channelName('private-');
    const [, receiverCh, sender, senderCh] = await pair(ctx.server, ch);
    await expectRejected4301(sender, senderCh, receiverCh, 'client-greeting', { message: 'hello' });
  });
});
