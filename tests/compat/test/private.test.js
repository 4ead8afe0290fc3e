'use strict';
// soketi tests/private.test.ts with pusher-js 8 signing through channelAuthorization.customHandler.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

describe('private channels', () => {
  const ctx = h.withServer();

  it('subscribes with a signed auth and receives a backend trigger', async () => {
    const { channel } = await ctx.subscribeFresh('private-');
    assert.deepEqual(
      await h.triggered(ctx.rest, channel, 'greeting', { message: 'hello', weirdVariable: 'abc/d' }),
      { message: 'hello', weirdVariable: 'abc/d' },
    );
  });

  it('wrong auth gives pusher:subscription_error AuthError / 401', async () => {
    const ch = h.channelName('private-');
    const p = h.client(ctx.server, { channelAuth: () => ({ auth: 'app-key:incorrect' }) });
    const channel = p.subscribe(ch);
    const succeeded = h.collect(channel, 'pusher:subscription_succeeded');
    const err = await h.waitEvent(channel, 'pusher:subscription_error');
    assert.equal(err.type, 'AuthError');
    assert.equal(err.status, 401);
    assert.equal(succeeded.length, 0);
    // The rejected socket is not counted as a subscriber.
    const info = await h.getJson(ctx.rest, `/channels/${ch}`);
    assert.equal(info.subscription_count, 0);
  });

  it('a signature for another socket is refused', async () => {
    const ch = h.channelName('private-');
    const signer = h.backend(ctx.server);
    const p = h.client(ctx.server, {
      channelAuth: () => signer.authorizeChannel('1234.5678', ch),
    });
    const err = await h.waitEvent(p.subscribe(ch), 'pusher:subscription_error');
    assert.equal(err.type, 'AuthError');
    assert.equal(err.status, 401);
  });

  it('unsubscribe and sudden disconnect leave no channel behind', async () => {
    const ch = h.channelName('private-');
    const a = h.client(ctx.server);
    const b = h.client(ctx.server);
    await h.subscribed(a, ch);
    await h.subscribed(b, ch);
    assert.equal((await h.getJson(ctx.rest, `/channels/${ch}`)).subscription_count, 2);
    a.unsubscribe(ch);
    await h.eventually(async () => (await h.getJson(ctx.rest, `/channels/${ch}`)).subscription_count === 1);
    h.disconnect(b);
    await h.eventually(async () => {
      const info = await h.getJson(ctx.rest, `/channels/${ch}`);
      return info.subscription_count === 0 && info.occupied === false;
    });
  });

  // docs/compat.md, channel-kinds: channel kinds are anchored prefixes (soketi's unanchored
  // regex would demand private auth for `foo-private-bar`). pusher-js also treats it as public
  // and sends no auth.
  it('a name merely containing "private-" is a public channel', async () => {
    const ch = `foo-${h.channelName('private-')}`;
    const p = h.client(ctx.server);
    const channel = await h.subscribed(p, ch);
    assert.deepEqual(
      await h.triggered(ctx.rest, channel, 'greeting', { message: 'hello' }),
      { message: 'hello' },
    );
  });
});
