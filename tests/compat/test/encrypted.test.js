'use strict';
// soketi tests/encrypted-private.test.ts: end-to-end encrypted channels. The backend SDK
// encrypts with encryptionMasterKeyBase64, the client's auth response carries the per-channel
// shared secret, pusher-js (Node build, tweetnacl bundled) decrypts; the server relays opaque
// ciphertext.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

describe('private-encrypted channels', () => {
  const ctx = h.withServer();

  it('the client decrypts a backend trigger', async () => {
    const { ch, p, channel } = await ctx.subscribeFresh('private-encrypted-');
    const sent = { message: 'hello', weirdVariable: 'abc/d' };
    const data = await h.triggered(ctx.rest, channel, 'greeting', sent);
    assert.equal(data.message, 'hello');
    assert.equal(data.weirdVariable, 'abc/d');
    // On the wire the payload was ciphertext, not the plain object.
    const raw = h.framesOf(p, 'greeting', ch);
    assert.equal(raw.length, 1);
    const wire = typeof raw[0].data === 'string' ? JSON.parse(raw[0].data) : raw[0].data;
    assert.ok(wire.ciphertext && wire.nonce, 'relayed as {ciphertext, nonce}');
  });

  it('wrong auth gives pusher:subscription_error AuthError / 401', async () => {
    const ch = h.channelName('private-encrypted-');
    const signer = h.backend(ctx.server);
    // Keep a valid shared_secret (pusher-js refuses an auth response without one before
    // anything is sent) but a wrong signature.
    const p = h.client(ctx.server, {
      channelAuth: ({ socketId, channelName }) => ({
        ...signer.authorizeChannel(socketId, channelName),
        auth: 'app-key:incorrect',
      }),
    });
    const channel = p.subscribe(ch);
    const err = await h.waitEvent(channel, 'pusher:subscription_error');
    assert.equal(err.type, 'AuthError');
    assert.equal(err.status, 401);
  });

  it('unsubscribe leaves no channel behind', async () => {
    const { ch, p } = await ctx.subscribeFresh('private-encrypted-');
    assert.equal((await h.getJson(ctx.rest, `/channels/${ch}`)).subscription_count, 1);
    p.unsubscribe(ch);
    await h.eventually(async () => (await h.getJson(ctx.rest, `/channels/${ch}`)).occupied === false);
  });
});
