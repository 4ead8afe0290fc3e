'use strict';
// REST API through pusher-http-node 5 (soketi tests/http-api.test.ts). fanoutd answers errors
// with their real HTTP status (docs/compat.md, http-status), so the SDK promise rejects with a
// RequestError carrying `status` and the JSON `body` — where soketi's suite reads `body.code`
// from an HTTP 200.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const JOHN = { user_id: 1, user_info: { id: 1, name: 'John' } };
const ALICE = { user_id: 2, user_info: { id: 2, name: 'Alice' } };

/** Asserts `promise` rejects with HTTP `status` and a JSON body `{error, code: status}`. */
async function expectStatus(promise, status) {
  const err = await h.rejection(promise);
  assert.equal(err.status, status, `HTTP status (${err.message}; body ${err.body})`);
  const body = JSON.parse(err.body);
  assert.equal(body.code, status);
  assert.equal(typeof body.error, 'string');
  return body;
}

describe('REST reads', () => {
  const ctx = h.withServer();

  it('GET /channels: subscription_count 1 then 2, absent after disconnect', async () => {
    const { ch, p: a } = await ctx.subscribeFresh();
    let body = await h.getJson(ctx.rest, '/channels');
    assert.deepEqual(body.channels[ch], { subscription_count: 1, occupied: true });

    const b = h.client(ctx.server);
    await h.subscribed(b, ch);
    body = await h.getJson(ctx.rest, '/channels');
    assert.equal(body.channels[ch].subscription_count, 2);
    assert.equal(body.channels[ch].occupied, true);

    h.disconnect(a);
    h.disconnect(b);
    await h.eventually(async () => !((await h.getJson(ctx.rest, '/channels')).channels[ch]));
  });

  it('GET /channels/<ch>: 1/true, 2/true, then 0/false', async () => {
    const { ch, p: a } = await ctx.subscribeFresh('private-');
    assert.deepEqual(await h.getJson(ctx.rest, `/channels/${ch}`), { subscription_count: 1, occupied: true });
    const b = h.client(ctx.server);
    await h.subscribed(b, ch);
    assert.deepEqual(await h.getJson(ctx.rest, `/channels/${ch}`), { subscription_count: 2, occupied: true });
    h.disconnect(a);
    h.disconnect(b);
    await h.eventually(async () => {
      const info = await h.getJson(ctx.rest, `/channels/${ch}`);
      return info.subscription_count === 0 && info.occupied === false;
    });
  });

  it('presence GET /channels/<ch> has user_count; /users lists the members', async () => {
    const ch = h.channelName('presence-');
    const john = h.client(ctx.server, { presence: JOHN });
    await h.subscribed(john, ch);
    let info = await h.getJson(ctx.rest, `/channels/${ch}`, { info: 'user_count,subscription_count' });
    assert.equal(info.subscription_count, 1);
    assert.equal(info.user_count, 1);
    assert.equal(info.occupied, true);
    let users = await h.getJson(ctx.rest, `/channels/${ch}/users`);
    assert.deepEqual(users, { users: [{ id: 1 }] });

    const alice = h.client(ctx.server, { presence: ALICE });
    await h.subscribed(alice, ch);
    info = await h.getJson(ctx.rest, `/channels/${ch}`, { info: 'user_count,subscription_count' });
    assert.equal(info.subscription_count, 2);
    assert.equal(info.user_count, 2);
    assert.equal(info.occupied, true);
    users = await h.getJson(ctx.rest, `/channels/${ch}/users`);
    assert.deepEqual(users.users.map((u) => u.id).sort(), [1, 2]);

    // soketi extension: with_user_info=1.
    users = await h.getJson(ctx.rest, `/channels/${ch}/users`, { with_user_info: '1' });
    const alicesEntry = users.users.find((u) => u.id === 2);
    assert.deepEqual(alicesEntry.user_info, { id: 2, name: 'Alice' });

    h.disconnect(john);
    h.disconnect(alice);
    await h.eventually(async () => {
      const i = await h.getJson(ctx.rest, `/channels/${ch}`, { info: 'user_count,subscription_count' });
      return i.subscription_count === 0 && i.user_count === 0 && i.occupied === false;
    });
    users = await h.getJson(ctx.rest, `/channels/${ch}/users`);
    assert.deepEqual(users.users, []);
  });

  it('the same user on two connections counts once in /users', async () => {
    const ch = h.channelName('presence-');
    await h.subscribed(h.client(ctx.server, { presence: JOHN }), ch);
    await h.subscribed(h.client(ctx.server, { presence: JOHN }), ch);
    const users = await h.getJson(ctx.rest, `/channels/${ch}/users`);
    assert.deepEqual(users, { users: [{ id: 1 }] });
    const info = await h.getJson(ctx.rest, `/channels/${ch}`, { info: 'user_count,subscription_count' });
    assert.equal(info.user_count, 1);
    assert.equal(info.subscription_count, 2);
  });

  it('GET /channels?filter_by_prefix=presence- lists only presence channels', async () => {
    const presence = h.channelName('presence-');
    const priv = h.channelName('private-');
    const p = h.client(ctx.server, { presence: JOHN });
    await h.subscribed(p, presence);
    await h.subscribed(p, priv);
    const body = await h.getJson(ctx.rest, '/channels', { filter_by_prefix: 'presence-', info: 'user_count' });
    assert.equal(body.channels[presence].subscription_count, 1);
    assert.equal(body.channels[presence].user_count, 1);
    assert.equal(body.channels[priv], undefined);
    for (const name of Object.keys(body.channels)) assert.ok(name.startsWith('presence-'), name);
  });

  it('/users of a non-presence channel → 400', async () => {
    await expectStatus(ctx.rest.get({ path: `/channels/${h.channelName('private-')}/users` }), 400);
  });

  it('an unknown app id → 404', async () => {
    const wrong = h.backend(ctx.server, { appId: 'no-such-app' });
    const body = await expectStatus(wrong.get({ path: '/channels' }), 404);
    assert.match(body.error, /no-such-app/);
  });
});

describe('REST publishing', () => {
  const ctx = h.withServer();

  it('a wrong secret → 401 and nothing is delivered; the right one is', async () => {
    const { ch, channel } = await ctx.subscribeFresh();
    const seen = h.collect(channel, 'greeting');
    const forged = h.backend(ctx.server, { secret: 'wrong-secret' });
    await expectStatus(forged.trigger(ch, 'greeting', { message: 'forged' }), 401);
    assert.deepEqual(
      await h.triggered(ctx.rest, channel, 'greeting', { message: 'hello' }),
      { message: 'hello' },
    );
    await h.sleep(100);
    assert.deepEqual(seen, [{ message: 'hello' }], 'only the correctly signed event');
  });

  it('an event payload over the default 100 KB → 413, not delivered', async () => {
    const { ch, channel } = await ctx.subscribeFresh();
    const seen = h.collect(channel, 'greeting');
    await expectStatus(ctx.rest.trigger(ch, 'greeting', 'x'.repeat(101 * 1024)), 413);
    await h.sleep(100);
    assert.equal(seen.length, 0);
  });

  it('trigger to several channels delivers to each', async () => {
    const chs = [h.channelName(), h.channelName(), h.channelName()];
    const p = h.client(ctx.server);
    const got = [];
    for (const ch of chs) got.push(h.waitEvent(await h.subscribed(p, ch), 'greeting'));
    await ctx.rest.trigger(chs, 'greeting', { message: 'hello' });
    for (const d of await Promise.all(got)) assert.deepEqual(d, { message: 'hello' });
  });
});

describe('REST limits (eventLimits set low)', () => {
  const ctx = h.withServer({
    env: {
      SOKETI_EVENT_MAX_CHANNELS_AT_ONCE: '1',
      SOKETI_EVENT_MAX_NAME_LENGTH: '7',
      SOKETI_EVENT_MAX_SIZE_IN_KB: '1',
      SOKETI_EVENT_MAX_BATCH_SIZE: '2',
    },
  });

  it('too many channels → 400', async () => {
    await expectStatus(ctx.rest.trigger([h.channelName(), h.channelName()], 'event', { a: 1 }), 400);
  });

  it('event name too long → 400', async () => {
    await expectStatus(ctx.rest.trigger(h.channelName(), 'greeting', { a: 1 }), 400);
  });

  it('payload over eventLimits.maxPayloadInKb → 413', async () => {
    await expectStatus(ctx.rest.trigger(h.channelName(), 'event', 'x'.repeat(2048)), 413);
  });

  it('batch larger than eventLimits.maxBatchSize → 400, nothing sent', async () => {
    const { ch, channel } = await ctx.subscribeFresh();
    const seen = h.collect(channel, 'event');
    const item = { channel: ch, name: 'event', data: { a: 1 } };
    await expectStatus(ctx.rest.triggerBatch([item, item, item]), 400);
    await h.sleep(100);
    assert.equal(seen.length, 0);
    await ctx.rest.triggerBatch([item, item]);
    await h.eventually(() => seen.length === 2);
  });
});

describe('numeric app id in the config file', () => {
  const ctx = h.withServer({
    config: { 'appManager.array.apps': [{ id: 40000, key: 'app-key', secret: 'app-secret' }] },
  });

  it('the SDK with appId "40000" publishes', async () => {
    const rest = h.backend(ctx.server, { appId: '40000' });
    const { channel } = await ctx.subscribeFresh();
    assert.deepEqual(await h.triggered(rest, channel, 'greeting', { message: 'hello' }), { message: 'hello' });
  });
});

describe('plain HTTP endpoints', () => {
  const ctx = h.withServer({}, { clients: false });

  it('GET / → 200 OK, GET /ready → 200', async () => {
    const root = await ctx.server.get('/');
    assert.equal(root.status, 200);
    assert.equal(root.body, 'OK');
    assert.equal((await ctx.server.get('/ready')).status, 200);
  });

  it('an unknown route → 404', async () => {
    assert.equal((await ctx.server.get('/favicon.ico')).status, 404);
  });

  it('GET /usage on the metrics port → memory JSON', async () => {
    const res = await ctx.server.metrics('/usage');
    assert.equal(res.status, 200);
    const body = JSON.parse(res.body);
    for (const k of ['free', 'used', 'total', 'percent']) assert.equal(typeof body.memory[k], 'number', k);
  });
});
