'use strict';
// Cache channels (soketi public #4, private #5, encrypted #5, presence #7): the first
// subscriber of an empty cache channel gets `pusher:cache_miss`; after a backend trigger a new
// subscriber gets the last event replayed right after subscription_succeeded, and no cache_miss.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const KINDS = [
  { prefix: 'cache-', first: {}, second: {} },
  { prefix: 'private-cache-', first: {}, second: {} },
  { prefix: 'private-encrypted-cache-', first: {}, second: {} },
  {
    prefix: 'presence-cache-',
    first: { presence: { user_id: 1, user_info: { id: 1, name: 'John' } } },
    second: { presence: { user_id: 2, user_info: { id: 2, name: 'Alice' } } },
  },
];

describe('cache channels', () => {
  const ctx = h.withServer();

  for (const kind of KINDS) {
    it(`${kind.prefix}: cache_miss first, then the cached event for a later subscriber`, async () => {
      const ch = h.channelName(kind.prefix);

      const first = h.client(ctx.server, kind.first);
      const firstCh = first.subscribe(ch);
      const firstMiss = h.waitEvent(firstCh, 'pusher:cache_miss');
      await h.waitEvent(firstCh, 'pusher:subscription_succeeded');
      await firstMiss;

      const firstGot = h.waitEvent(firstCh, 'greeting');
      await ctx.rest.trigger(ch, 'greeting', { message: 'hello', weirdVariable: 'abc/d' });
      assert.equal((await firstGot).message, 'hello');

      const second = h.client(ctx.server, kind.second);
      const secondCh = second.subscribe(ch);
      const secondMisses = h.collect(secondCh, 'pusher:cache_miss');
      const replay = h.waitEvent(secondCh, 'greeting');
      await h.waitEvent(secondCh, 'pusher:subscription_succeeded');
      const data = await replay;
      assert.equal(data.message, 'hello');
      assert.equal(data.weirdVariable, 'abc/d');
      await h.sleep(200);
      assert.equal(secondMisses.length, 0, 'no cache_miss once the channel has a cached event');
      assert.equal(h.framesOf(second, 'pusher:cache_miss', ch).length, 0);
      // The replay is not fanned out again to the first subscriber.
      assert.equal(h.framesOf(first, 'greeting', ch).length, 1);
    });
  }

  it('the last event wins', async () => {
    const ch = h.channelName('cache-');
    await ctx.rest.trigger(ch, 'greeting', { n: 1 });
    await ctx.rest.trigger(ch, 'other', { n: 2 });
    const p = h.client(ctx.server);
    const channel = p.subscribe(ch);
    const got = h.waitEvent(channel, 'other');
    const greetings = h.collect(channel, 'greeting');
    assert.deepEqual(await got, { n: 2 });
    await h.sleep(150);
    assert.equal(greetings.length, 0);
  });
});
