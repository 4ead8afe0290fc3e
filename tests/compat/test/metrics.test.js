'use strict';
// Prometheus metrics (docs/compat.md: the seed's names `{prefix}{port}_connected`, labels
// `app_id` and `port`, Content-Type `text/plain; version=0.0.4`), driven by pusher-js clients.

const { describe, it, before, after, afterEach } = require('node:test');
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
  let server;
  let connected;
  let scrape;

  before(async () => {
    server = await h.startServer({ env: { SOKETI_METRICS_ENABLED: 'true' } });
    connected = `soketi_${server.port}_connected`;
    scrape = async () => {
      const res = await server.metrics('/metrics');
      assert.equal(res.status, 200);
      return res;
    };
  });
  afterEach(() => h.disconnectAll());
  after(() => server && server.dispose());

  it('GET /metrics is Prometheus text with the port-named metrics', async (t) => {
    const res = await scrape();
    if (!res.body.includes(connected)) {
      t.skip(`metrics module not landed: body lacks ${connected}`);
      return;
    }
    assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
    assert.match(res.body, new RegExp(`^# TYPE ${connected} gauge$`, 'm'));
    assert.match(res.body, new RegExp(`^${connected}\\{[^}]*port="${server.port}"[^}]*\\} `, 'm'));
  });

  it('the connected gauge equals the number of open pusher-js clients', async (t) => {
    if (!(await scrape()).body.includes(connected)) {
      t.skip(`metrics module not landed: body lacks ${connected}`);
      return;
    }
    await h.eventually(async () => sample((await scrape()).body, connected) === 0);
    const clients = [h.client(server), h.client(server), h.client(server)];
    await Promise.all(clients.map((p) => h.connected(p)));
    // A refused client (unknown key) is not counted.
    const refused = h.client(server, { key: 'no-such-key' });
    await h.eventually(() => refused.errorCodes.includes(4001));
    assert.equal(sample((await scrape()).body, connected), 3);

    h.disconnect(clients[0]);
    await h.eventually(async () => sample((await scrape()).body, connected) === 2);
    const body = (await scrape()).body;
    assert.ok(sample(body, `soketi_${server.port}_new_connections_total`) >= 3);
    assert.ok(sample(body, `soketi_${server.port}_new_disconnections_total`) >= 1);

    await h.disconnectAll();
    await h.eventually(async () => sample((await scrape()).body, connected) === 0);
  });
});

describe('metrics with SOKETI_METRICS_PROMETHEUS_PORT_IN_NAME=false (soketi 1.x names)', () => {
  let server;

  before(async () => {
    server = await h.startServer({
      env: { SOKETI_METRICS_ENABLED: 'true', SOKETI_METRICS_PROMETHEUS_PORT_IN_NAME: 'false' },
    });
  });
  afterEach(() => h.disconnectAll());
  after(() => server && server.dispose());

  it('soketi_connected{port="<port>"} counts the open clients', async (t) => {
    const first = await server.metrics('/metrics');
    if (!first.body.includes('soketi_connected')) {
      t.skip('metrics module without the 1.x naming switch: body lacks soketi_connected');
      return;
    }
    const p = h.client(server);
    await h.connected(p);
    await h.eventually(async () => sample((await server.metrics('/metrics')).body, 'soketi_connected') === 1);
    const body = (await server.metrics('/metrics')).body;
    assert.match(body, new RegExp(`^soketi_connected\\{[^}]*port="${server.port}"[^}]*\\} 1$`, 'm'));
    assert.ok(!body.includes(`soketi_${server.port}_connected`));
  });
});
