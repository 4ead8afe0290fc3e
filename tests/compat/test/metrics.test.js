'use strict';
// Prometheus metrics (docs/compat.md, metric-names and metrics-content-type: soketi's
// documented names `{prefix}{port}_connected`, labels `app_id` and `port`, Content-Type
// `text/plain; version=0.0.4`), driven by pusher-js clients.

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

/** Value of `<name>{...app_id="app-id"...}` in a Prometheus text body, or undefined. */
function sample(body, name, appId = 'app-id') {
  for (const line of body.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const m = /^[^{]+\{([^}]*)\}\s+(\S+)/.exec(line);
    if (m && m[1].includes(`app_id="${appId}"`)) return Number(m[2]);
  }
  return undefined;
}

describe('metrics (SOKETI_METRICS_ENABLED=true)', () => {
  const ctx = h.withServer({ env: { SOKETI_METRICS_ENABLED: 'true' } });
  let connected;
  let scrape;

  before(() => {
    connected = `soketi_${ctx.server.port}_connected`;
    scrape = async () => {
      const res = await ctx.server.metrics('/metrics');
      assert.equal(res.status, 200);
      return res;
    };
  });

  it('GET /metrics is Prometheus text with the port-named metrics', async (t) => {
    const res = await scrape();
    if (!res.body.includes(connected)) {
      t.skip(`metrics module not landed: body lacks ${connected}`);
      return;
    }
    assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
    assert.match(res.body, new RegExp(`^# TYPE ${connected} gauge$`, 'm'));
    assert.match(res.body, new RegExp(`^${connected}\\{[^}]*port="${ctx.server.port}"[^}]*\\} `, 'm'));
  });

  it('the connected gauge equals the number of open pusher-js clients', async (t) => {
    if (!(await scrape()).body.includes(connected)) {
      t.skip(`metrics module not landed: body lacks ${connected}`);
      return;
    }
    await h.eventually(async () => sample((await scrape()).body, connected) === 0);
    const clients = [h.client(ctx.server), h.client(ctx.server), h.client(ctx.server)];
    await Promise.all(clients.map((p) => h.connected(p)));
    // A refused client (unknown key) is not counted.
    const refused = h.client(ctx.server, { key: 'no-such-key' });
    await h.eventually(() => refused.errorCodes.includes(4001));
    assert.equal(sample((await scrape()).body, connected), 3);

    h.disconnect(clients[0]);
    await h.eventually(async () => sample((await scrape()).body, connected) === 2);
    const body = (await scrape()).body;
    assert.ok(sample(body, `soketi_${ctx.server.port}_new_connections_total`) >= 3);
    assert.ok(sample(body, `soketi_${ctx.server.port}_new_disconnections_total`) >= 1);

    await h.disconnectAll();
    await h.eventually(async () => sample((await scrape()).body, connected) === 0);
  });
});

describe('metrics with SOKETI_METRICS_PROMETHEUS_PORT_IN_NAME=false (soketi 1.x names)', () => {
  const ctx = h.withServer({
    env: { SOKETI_METRICS_ENABLED: 'true', SOKETI_METRICS_PROMETHEUS_PORT_IN_NAME: 'false' },
  });

  it('soketi_connected{port="<port>"} counts the open clients', async (t) => {
    const first = await ctx.server.metrics('/metrics');
    if (!first.body.includes('soketi_connected')) {
      t.skip('metrics module without the 1.x naming switch: body lacks soketi_connected');
      return;
    }
    const p = h.client(ctx.server);
    await h.connected(p);
    await h.eventually(async () => sample((await ctx.server.metrics('/metrics')).body, 'soketi_connected') === 1);
    const body = (await ctx.server.metrics('/metrics')).body;
    assert.match(body, new RegExp(`^soketi_connected\\{[^}]*port="${ctx.server.port}"[^}]*\\} 1$`, 'm'));
    assert.ok(!body.includes(`soketi_${ctx.server.port}_connected`));
  });
});
