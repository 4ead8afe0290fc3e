'use strict';
// soketi tests/public.test.ts and the public parts of http-api.test.ts, with the official
// clients: pusher-js 8 subscribes, pusher-http-node 5 publishes.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

describe('public channels', () => {
  const ctx = h.withServer();

  it('subscribes and receives a backend trigger intact', async () => {
    const { channel } = await ctx.subscribeFresh();
    // Non-presence subscription_succeeded carries no data in soketi.
    assert.deepEqual(
      await h.triggered(ctx.rest, channel, 'greeting', { message: 'hello', weirdVariable: 'abc/d' }),
      { message: 'hello', weirdVariable: 'abc/d' },
    );
  });

  it('stops delivering after unsubscribe', async () => {
    const { ch, p, channel } = await ctx.subscribeFresh();
    const seen = h.collect(channel, 'greeting');
    // A second client stays subscribed, so we know when the event has been fanned out.
    const watcher = h.client(ctx.server);
    const watched = await h.subscribed(watcher, ch);
    await ctx.rest.trigger(ch, 'greeting', { n: 1 });
    await h.eventually(() => seen.length === 1);

    p.unsubscribe(ch);
    await h.eventually(async () => {
      const info = await h.getJson(ctx.rest, `/channels/${ch}`);
      return info.subscription_count === 1;
    });
    const watcherGot = h.waitEvent(watched, 'greeting', { filter: (d) => d.n === 2 });
    // Any frame for the channel after unsubscribing counts (pusher-js drops events for a
    // channel it no longer holds, so look at the raw frames).
    const framesBefore = p.frames.length;
    await ctx.rest.trigger(ch, 'greeting', { n: 2 });
    await watcherGot;
    await h.sleep(200);
    assert.equal(seen.length, 1);
    assert.deepEqual(
      p.frames.slice(framesBefore).filter((f) => f.channel === ch),
      [],
      'no frame for the channel after unsubscribe',
    );
  });

  it('triggerBatch delivers all 3 events intact', async () => {
    const { ch, channel } = await ctx.subscribeFresh();
    const seen = h.collect(channel, 'greeting');
    await ctx.rest.triggerBatch([
      { channel: ch, name: 'greeting', data: { message: 'hello', n: 1 } },
      { channel: ch, name: 'greeting', data: { message: 'hello', n: 2 } },
      { channel: ch, name: 'greeting', data: { message: 'hello', n: 3 } },
    ]);
    await h.eventually(() => seen.length === 3);
    assert.deepEqual(
      seen.map((d) => d.n).sort(),
      [1, 2, 3],
    );
    for (const d of seen) assert.equal(d.message, 'hello');
  });

  it('trigger with socket_id excludes that socket', async () => {
    const ch = h.channelName();
    const sender = h.client(ctx.server);
    const other = h.client(ctx.server);
    const senderCh = await h.subscribed(sender, ch);
    const otherCh = await h.subscribed(other, ch);
    const senderSeen = h.collect(senderCh, 'greeting');
    const otherGot = h.waitEvent(otherCh, 'greeting');
    await ctx.rest.trigger(ch, 'greeting', { message: 'hello' }, { socket_id: sender.connection.socket_id });
    assert.deepEqual(await otherGot, { message: 'hello' });
    await h.sleep(200);
    assert.equal(senderSeen.length, 0, 'the excluded socket must not receive the event');
  });

  it('a sudden disconnect leaves no channel behind', async () => {
    const { ch, p } = await ctx.subscribeFresh();
    let info = await h.getJson(ctx.rest, `/channels/${ch}`);
    assert.equal(info.subscription_count, 1);
    h.disconnect(p);
    await h.eventually(async () => {
      info = await h.getJson(ctx.rest, `/channels/${ch}`);
      return info.subscription_count === 0 && info.occupied === false;
    });
  });
});
