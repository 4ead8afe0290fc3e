'use strict';
// Subscription limits (soketi tests/ws.test.ts #9-#11) as pusher-js reports them:
// `pusher:subscription_error` with `{type:'LimitReached', error, status}`.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

describe('subscription limits', () => {
  const ctx = h.withServer({
    env: {
      SOKETI_CHANNEL_LIMITS_MAX_NAME_LENGTH: '25',
      SOKETI_PRESENCE_MAX_MEMBER_SIZE: '0.05', // KB: 51 bytes of user_info
      SOKETI_PRESENCE_MAX_MEMBERS: '1',
    },
  });

  it('channelLimits.maxNameLength: a 26-character name → LimitReached / 4009', async () => {
    const name = `c${'a'.repeat(25)}`;
    assert.equal(name.length, 26);
    const p = h.client(ctx.server);
    const err = await h.waitEvent(p.subscribe(name), 'pusher:subscription_error');
    assert.equal(err.type, 'LimitReached');
    assert.equal(err.status, 4009);
    assert.equal(typeof err.error, 'string');
    // 25 characters are fine.
    await h.subscribed(p, name.slice(1));
  });

  it('presence.maxMemberSizeInKb: oversized user_info → LimitReached / 4301', async () => {
    const p = h.client(ctx.server, {
      presence: { user_id: 1, user_info: { name: 'John', bio: 'x'.repeat(100) } },
    });
    const err = await h.waitEvent(p.subscribe(`presence-${Math.floor(Math.random() * 1e6)}`), 'pusher:subscription_error');
    assert.equal(err.type, 'LimitReached');
    assert.equal(err.status, 4301);
  });

  it('presence.maxMembersPerChannel (1): a second user → LimitReached / 4100', async () => {
    const ch = `presence-${Math.floor(Math.random() * 1e6)}`;
    const john = h.client(ctx.server, { presence: { user_id: 1, user_info: { name: 'John' } } });
    await h.subscribed(john, ch);
    const alice = h.client(ctx.server, { presence: { user_id: 2, user_info: { name: 'Alice' } } });
    const err = await h.waitEvent(alice.subscribe(ch), 'pusher:subscription_error');
    assert.equal(err.type, 'LimitReached');
    assert.equal(err.status, 4100);
  });
});
