'use strict';
// soketi tests/presence.test.ts with pusher-js 8 presence channels. Users: John (user_id 1),
// Alice (user_id 2) — numeric ids, as soketi's suite signs them.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const JOHN = { user_id: 1, user_info: { id: 1, name: 'John' } };
const ALICE = { user_id: 2, user_info: { id: 2, name: 'Alice' } };

/** Decoded `data` of a raw frame (pusher-js already parses JSON strings where it can). */
function dataOf(frame) {
  return typeof frame.data === 'string' ? JSON.parse(frame.data) : frame.data;
}

describe('presence channels', () => {
  const ctx = h.withServer();

  it('subscription_succeeded gives the members; backend events arrive', async () => {
    const { channel } = await ctx.subscribeFresh('presence-', { presence: JOHN });
    const members = channel.succeededData;
    assert.equal(members.count, 1);
    assert.equal(members.me.id, 1);
    assert.deepEqual(members.me.info, { id: 1, name: 'John' });
    assert.equal(members.get('1').info.name, 'John');

    assert.deepEqual(
      await h.triggered(ctx.rest, channel, 'greeting', { message: 'hello' }),
      { message: 'hello' },
    );
  });

  it('member_added / member_removed between two clients', async () => {
    const ch = h.channelName('presence-');
    const john = h.client(ctx.server, { presence: JOHN });
    const johnCh = await h.subscribed(john, ch);
    const added = h.waitEvent(johnCh, 'pusher:member_added');

    const alice = h.client(ctx.server, { presence: ALICE });
    const aliceCh = await h.subscribed(alice, ch);
    const aliceView = aliceCh.succeededData;
    assert.equal(aliceView.count, 2);
    assert.equal(aliceView.me.id, 2);
    assert.equal(aliceView.get('1').info.name, 'John');
    assert.equal(aliceView.get('2').info.name, 'Alice');

    const member = await added;
    assert.equal(member.id, 2);
    assert.equal(member.info.name, 'Alice');
    assert.equal(johnCh.members.count, 2);

    const removed = h.waitEvent(johnCh, 'pusher:member_removed');
    h.disconnect(alice);
    const gone = await removed;
    assert.equal(gone.id, 2);
    assert.equal(johnCh.members.count, 1);
  });

  it('numeric user_id keeps its JSON type on the wire', async () => {
    const ch = h.channelName('presence-');
    const john = h.client(ctx.server, { presence: JOHN });
    await h.subscribed(john, ch);
    const alice = h.client(ctx.server, { presence: ALICE });
    await h.subscribed(alice, ch);
    await h.eventually(() => h.framesOf(john, 'pusher_internal:member_added', ch).length === 1);

    const [succeeded] = h.framesOf(alice, 'pusher_internal:subscription_succeeded', ch);
    const presence = dataOf(succeeded).presence;
    assert.deepEqual([...presence.ids].sort(), [1, 2], 'ids are numbers');
    assert.deepEqual(presence.hash['2'], { id: 2, name: 'Alice' });
    assert.equal(presence.count, 2);

    const [addedFrame] = h.framesOf(john, 'pusher_internal:member_added', ch);
    assert.strictEqual(dataOf(addedFrame).user_id, 2);

    h.disconnect(alice);
    await h.eventually(() => h.framesOf(john, 'pusher_internal:member_removed', ch).length === 1);
    const [removedFrame] = h.framesOf(john, 'pusher_internal:member_removed', ch);
    assert.strictEqual(dataOf(removedFrame).user_id, 2);
  });

  it('the same user on two connections is one member (added once, removed once)', async () => {
    const ch = h.channelName('presence-');
    const john1 = h.client(ctx.server, { presence: JOHN });
    await h.subscribed(john1, ch);
    const alice = h.client(ctx.server, { presence: ALICE });
    const aliceCh = await h.subscribed(alice, ch);
    const aliceAdded = h.collect(aliceCh, 'pusher:member_added');
    const aliceRemoved = h.collect(aliceCh, 'pusher:member_removed');

    const john2 = h.client(ctx.server, { presence: JOHN });
    const john2Ch = await h.subscribed(john2, ch);
    assert.equal(john2Ch.succeededData.count, 2, 'John twice + Alice = 2 members');
    assert.equal(john2Ch.succeededData.me.id, 1);

    let info = await h.getJson(ctx.rest, `/channels/${ch}`, { info: 'user_count,subscription_count' });
    assert.equal(info.subscription_count, 3);
    assert.equal(info.user_count, 2);
    await h.sleep(200);
    assert.equal(aliceAdded.length, 0, 'no member_added for the second John socket');
    assert.equal(h.framesOf(alice, 'pusher_internal:member_added', ch).length, 0);

    h.disconnect(john1);
    await h.eventually(async () => (await h.getJson(ctx.rest, `/channels/${ch}`)).subscription_count === 2);
    await h.sleep(100);
    assert.equal(aliceRemoved.length, 0, 'John still has a socket: no member_removed yet');

    h.disconnect(john2);
    await h.eventually(() => aliceRemoved.length === 1);
    await h.sleep(200);
    // Count raw frames too: pusher-js would hide a duplicate member_removed.
    assert.equal(h.framesOf(alice, 'pusher_internal:member_removed', ch).length, 1);
    assert.equal(aliceRemoved[0].id, 1);
    assert.equal(aliceCh.members.count, 1);
    info = await h.getJson(ctx.rest, `/channels/${ch}`, { info: 'user_count' });
    assert.equal(info.user_count, 1);
    assert.equal(info.subscription_count, 1);
  });

  it('wrong auth gives pusher:subscription_error AuthError / 401', async () => {
    const ch = h.channelName('presence-');
    const p = h.client(ctx.server, {
      // pusher-js needs channel_data to accept the response; the signature is wrong.
      channelAuth: () => ({ auth: 'app-key:incorrect', channel_data: JSON.stringify(JOHN) }),
    });
    const err = await h.waitEvent(p.subscribe(ch), 'pusher:subscription_error');
    assert.equal(err.type, 'AuthError');
    assert.equal(err.status, 401);
  });

  it('unsubscribe empties the channel', async () => {
    const ch = h.channelName('presence-');
    const john = h.client(ctx.server, { presence: JOHN });
    await h.subscribed(john, ch);
    john.unsubscribe(ch);
    await h.eventually(async () => {
      const info = await h.getJson(ctx.rest, `/channels/${ch}`, { info: 'user_count' });
      return info.subscription_count === 0 && info.user_count === 0 && info.occupied === false;
    });
    const users = await h.getJson(ctx.rest, `/channels/${ch}/users`);
    assert.deepEqual(users.users, []);
  });
});
