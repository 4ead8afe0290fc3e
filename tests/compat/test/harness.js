'use strict';
// Shared helpers of the real-client compatibility suite: start / stop a fanoutd process on
// free ports, and build the official clients (pusher-js for WebSocket, pusher-http-node for
// REST) against it. Every test file starts its own server(s) and stops them in `after`.

const { spawn } = require('node:child_process');
const { before, after, afterEach } = require('node:test');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

// pusher-js's Node build (`dist/node/pusher.js`) is the encryption-capable build: it bundles
// tweetnacl and passes it as `options.nacl` itself. (`pusher-js/with-encryption` points at the
// *web* build, which needs a browser `window`.) So private-encrypted channels work with the
// plain `require('pusher-js')` under Node.
const PusherClient = require('pusher-js');
const PusherServer = require('pusher');

// pusher-js closes its socket again from inside the close event when the *server* closed it
// with a 4000-4099 code ("refused": 4001, 4003, 4009). faye-websocket's `close()` then arms a
// 30 s CLOSE_TIMEOUT timer on an already-closed socket that nothing clears, which would keep
// each test process alive for 30 s. Unref that timer (client-library quirk, not a server one).
{
  const WebSocketClient = PusherClient.Runtime.getWebSocketAPI();
  const close = WebSocketClient.prototype.close;
  WebSocketClient.prototype.close = function patchedClose(...args) {
    const result = close.apply(this, args);
    if (this._closeTimer && typeof this._closeTimer.unref === 'function') this._closeTimer.unref();
    return result;
  };
}

const APP_ID = 'app-id';
const APP_KEY = 'app-key';
const APP_SECRET = 'app-secret';
// The key soketi's own suite uses (32 random bytes, base64).
const ENCRYPTION_MASTER_KEY = 'nxzvbGF+f8FGhk/jOaZvgMle1tqxzF/VfUZLBLhhaH0=';

const BIN = process.env.FANOUTD_BIN
  ? path.resolve(process.env.FANOUTD_BIN)
  : path.resolve(__dirname, '..', '..', '..', 'target', 'release', 'fanoutd');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A port that was free a moment ago (listen on 127.0.0.1:0, read it, close). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** GET http://127.0.0.1:port/path; resolves {status, headers, body}. */
function httpGet(port, urlPath, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: urlPath, agent: false, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/**
 * A fanoutd process. `env` adds / overrides environment variables (SOKETI_*, FANOUTD_*);
 * `config` (an object) is written to a temporary JSON file passed as `--config FILE`.
 * The process gets a minimal environment (no inherited SOKETI_* from the caller) and runs in
 * an empty temporary directory (fanoutd reads a `.env` file from its working directory).
 */
class FanoutServer {
  constructor({ env = {}, config = null } = {}) {
    this.extraEnv = env;
    this.config = config;
    this.proc = null;
    this.port = null;
    this.metricsPort = null;
    this.stderr = '';
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fanoutd-compat-'));
  }

  async start() {
    // Ports from port 0 can be taken by someone else before fanoutd binds them: retry.
    let lastErr;
    for (let attempt = 0; attempt < 4; attempt++) {
      const samePorts = this.port != null && attempt === 0 && this._keepPorts;
      if (!samePorts) {
        this.port = await freePort();
        do {
          this.metricsPort = await freePort();
        } while (this.metricsPort === this.port);
      }
      try {
        await this._spawnAndWait();
        return this;
      } catch (e) {
        lastErr = e;
        await this._kill();
        if (!/in use/i.test(this.stderr)) break;
      }
    }
    throw new Error(`fanoutd did not start: ${lastErr && lastErr.message}\nstderr:\n${this.stderr}`);
  }

  /** Stop, then start again on the same ports (for reconnect tests). */
  async restart() {
    await this.stop();
    this._keepPorts = true;
    try {
      await this.start();
    } finally {
      this._keepPorts = false;
    }
  }

  async _spawnAndWait() {
    const args = [];
    if (this.config) {
      const file = path.join(this.dir, 'config.json');
      fs.writeFileSync(file, JSON.stringify(this.config));
      args.push('--config', file);
    }
    const env = {
      PATH: process.env.PATH || '/usr/bin:/bin',
      SOKETI_HOST: '127.0.0.1',
      SOKETI_PORT: String(this.port),
      SOKETI_METRICS_HOST: '127.0.0.1',
      SOKETI_METRICS_SERVER_PORT: String(this.metricsPort),
      // Keep SIGTERM quick; the harness still escalates to SIGKILL after 3 s.
      SOKETI_SHUTDOWN_GRACE_PERIOD: '100',
      ...this.extraEnv,
    };
    this.stderr = '';
    const proc = spawn(BIN, args, { env, cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    liveServers.add(proc);
    proc.on('exit', () => liveServers.delete(proc));
    proc.stdout.on('data', () => {});
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => {
      if (this.stderr.length < 64 * 1024) this.stderr += d;
    });
    proc.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => resolve({ code, signal }));
      proc.on('error', (err) => resolve({ code: null, signal: null, err }));
    });
    let gone = null;
    proc.exited.then((r) => (gone = r));
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline) {
      if (gone) {
        throw new Error(`fanoutd exited early (${gone.err ? gone.err.message : `code ${gone.code}, signal ${gone.signal}`})`);
      }
      try {
        const r = await httpGet(this.port, '/', 500);
        if (r.status === 200) return;
      } catch (_) {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error('fanoutd did not answer GET / within 10 s');
  }

  async _kill() {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    let timer;
    const timeout = new Promise((r) => {
      timer = setTimeout(() => r('timeout'), 3000);
    });
    const outcome = await Promise.race([proc.exited, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.killedHard = true;
      proc.kill('SIGKILL');
      await proc.exited;
    }
  }

  /** SIGTERM, then SIGKILL after 3 s. */
  async stop() {
    await this._kill();
  }

  /** Stop and remove the temporary directory. */
  async dispose() {
    await this._kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** GET on the metrics listener. */
  metrics(urlPath = '/metrics') {
    return httpGet(this.metricsPort, urlPath);
  }

  /** GET on the public listener. */
  get(urlPath) {
    return httpGet(this.port, urlPath);
  }
}

// Last resort: never leave a fanoutd behind if the test process exits without `after` hooks.
const liveServers = new Set();
process.on('exit', () => {
  for (const proc of liveServers) {
    try {
      proc.kill('SIGKILL');
    } catch (_) {
      // already gone
    }
  }
});

async function startServer(opts) {
  return new FanoutServer(opts).start();
}

/**
 * Call inside a `describe`: registers the suite's hooks — `before` starts a fanoutd
 * (`serverOpts` as for `startServer`) and builds a REST client for it, `afterEach` disconnects
 * every pusher-js client (unless `clients: false`), `after` disposes of the server. Returns an
 * object whose `.server` and `.rest` are set once `before` has run, and whose
 * `.subscribeFresh(prefix, clientOpts)` is `subscribeFresh` against that server.
 */
function withServer(serverOpts = {}, { clients = true } = {}) {
  const ctx = {
    server: null,
    rest: null,
    subscribeFresh: (prefix, clientOpts) => subscribeFresh(ctx.server, prefix, clientOpts),
  };
  before(async () => {
    ctx.server = await startServer(serverOpts);
    ctx.rest = backend(ctx.server);
  });
  if (clients) afterEach(() => disconnectAll());
  after(() => ctx.server && ctx.server.dispose());
  return ctx;
}

// ---------------------------------------------------------------------------------------------
// Clients.

/** pusher-http-node REST client against `server`. */
function backend(server, opts = {}) {
  return new PusherServer({
    appId: APP_ID,
    key: APP_KEY,
    secret: APP_SECRET,
    host: '127.0.0.1',
    port: server.port,
    useTLS: false,
    encryptionMasterKeyBase64: ENCRYPTION_MASTER_KEY,
    timeout: 5000,
    ...opts,
  });
}

// Every pusher-js client made by `client()` until `disconnectAll()`.
const liveClients = new Set();

/**
 * A pusher-js client connected (eventually) to `server`.
 * opts:
 *  - key, appId, secret: app credentials (signing happens locally with the `pusher` SDK)
 *  - presence: `{user_id, user_info}` signed into presence channel subscriptions
 *  - user: user data for `signin()` (default `{id:'1', name:'John'}`)
 *  - channelAuth(params): override returning the auth object for a channel
 *  - userAuth(params): override returning the auth object for signin
 *  - options: extra pusher-js options
 */
function client(server, opts = {}) {
  const key = opts.key || APP_KEY;
  const signer = backend(server, {
    appId: opts.appId || APP_ID,
    key,
    secret: opts.secret || APP_SECRET,
  });
  const presence = opts.presence || { user_id: 1, user_info: { id: 1, name: 'John' } };
  const user = opts.user || { id: '1', name: 'John' };
  const p = new PusherClient(key, {
    wsHost: '127.0.0.1',
    wsPort: server.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    cluster: 'mt1',
    channelAuthorization: {
      customHandler: (params, callback) => {
        try {
          if (opts.channelAuth) return callback(null, opts.channelAuth(params));
          const data = params.channelName.startsWith('presence-') ? presence : undefined;
          callback(null, signer.authorizeChannel(params.socketId, params.channelName, data));
        } catch (e) {
          callback(e, null);
        }
      },
    },
    userAuthentication: {
      customHandler: (params, callback) => {
        try {
          if (opts.userAuth) return callback(null, opts.userAuth(params));
          callback(null, signer.authenticateUser(params.socketId, user));
        } catch (e) {
          callback(e, null);
        }
      },
    },
    ...(opts.options || {}),
  });
  // Record every state the connection passes through, and every raw frame received.
  p.states = [p.connection.state];
  p.connection.bind('state_change', ({ current }) => p.states.push(current));
  p.frames = [];
  p.connection.bind('message', (m) => p.frames.push(m));
  // Codes of every error the connection reported: `pusher:error` frames (also during the
  // handshake) and close codes other than 1000/1001, as pusher-js surfaces them.
  p.errorCodes = [];
  p.connection.bind('error', (err) => {
    const code = errorCode(err);
    if (code !== undefined) p.errorCodes.push(code);
  });
  liveClients.add(p);
  return p;
}

/** The Pusher error code inside a pusher-js connection `error` event, if any. */
function errorCode(err) {
  if (!err) return undefined;
  if (err.data && err.data.code !== undefined) return err.data.code;
  if (err.error && err.error.data && err.error.data.code !== undefined) return err.error.data.code;
  return undefined;
}

/** Raw frames of `p` with event `event` (and channel `channel`, if given). */
function framesOf(p, event, channel) {
  return p.frames.filter((f) => f.event === event && (channel === undefined || f.channel === channel));
}

/** Disconnect one client (and forget it). */
function disconnect(p) {
  liveClients.delete(p);
  try {
    p.disconnect();
  } catch (_) {
    // already gone
  }
}

/** Disconnect every client made since the last call. */
async function disconnectAll() {
  for (const p of [...liveClients]) disconnect(p);
  // Let close frames reach the server before the next test looks at counts.
  await sleep(50);
}

// ---------------------------------------------------------------------------------------------
// Waiting.

/**
 * Resolves with the first event `event` emitted by `target` (anything with bind/unbind:
 * a pusher-js client, channel, connection or user), rejects after `ms`.
 * `filter(data, meta)` may restrict which emission counts; `withMeta` resolves `{data, meta}`
 * (pusher-js passes event metadata such as `user_id` as the second argument).
 */
function waitEvent(target, event, { ms = 5000, filter = null, withMeta = false } = {}) {
  return new Promise((resolve, reject) => {
    const cb = (data, meta) => {
      if (filter && !filter(data, meta)) return;
      clearTimeout(timer);
      target.unbind(event, cb);
      resolve(withMeta ? { data, meta } : data);
    };
    const timer = setTimeout(() => {
      target.unbind(event, cb);
      reject(new Error(`timed out after ${ms} ms waiting for '${event}'`));
    }, ms);
    target.bind(event, cb);
  });
}

/** Collects every emission of `event` on `target` into the returned array. */
function collect(target, event, { withMeta = false } = {}) {
  const seen = [];
  target.bind(event, (data, meta) => seen.push(withMeta ? { data, meta } : data));
  return seen;
}

/** Resolves once `p` is connected. */
function connected(p, ms = 5000) {
  if (p.connection.state === 'connected') return Promise.resolve(p);
  return waitEvent(p.connection, 'connected', { ms }).then(() => p);
}

/** Subscribes and resolves with the channel once `pusher:subscription_succeeded` arrives. */
async function subscribed(p, channelName, ms = 5000) {
  const ch = p.subscribe(channelName);
  const data = await waitEvent(ch, 'pusher:subscription_succeeded', { ms });
  ch.succeededData = data;
  return ch;
}

/**
 * A fresh client (`clientOpts` as for `client`) subscribed to a fresh channel
 * `channelName(prefix)`; resolves `{ch, p, channel}` once the subscription succeeded.
 */
async function subscribeFresh(server, prefix = '', clientOpts = {}) {
  const ch = channelName(prefix);
  const p = client(server, clientOpts);
  const channel = await subscribed(p, ch);
  return { ch, p, channel };
}

/**
 * Triggers `event` with `data` on `channel` through `rest` (`params` as for `rest.trigger`,
 * e.g. `{socket_id}`) and resolves with the data `channel` then receives.
 */
async function triggered(rest, channel, event, data, params) {
  const got = waitEvent(channel, event);
  await rest.trigger(channel.name, event, data, params);
  return got;
}

/** Polls `fn` until it returns a truthy value (returned) or `ms` elapse (throws the last error). */
async function eventually(fn, { ms = 3000, every = 50 } = {}) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = new Error('condition still false');
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) throw last;
    await sleep(every);
  }
}

let channelCounter = 0;
/** A fresh channel name: `<prefix>channel-<random>`. */
function channelName(prefix = '') {
  channelCounter += 1;
  return `${prefix}channel-${Math.floor(Math.random() * 10000000)}-${channelCounter}`;
}

/** Fetches a REST read through the SDK and parses the JSON body. */
async function getJson(rest, urlPath, params) {
  const res = await rest.get({ path: urlPath, params });
  return res.json();
}

/**
 * Runs `promise`, which must reject with a pusher-http-node RequestError; returns the error
 * (its `status` and `body`). Fails if the promise resolves.
 */
async function rejection(promise) {
  try {
    const res = await promise;
    let body = '';
    try {
      body = await res.text();
    } catch (_) {
      // no body
    }
    const err = new Error(`expected the request to fail, got HTTP ${res.status} ${body}`);
    err.resolved = true;
    throw err;
  } catch (e) {
    if (e.resolved) throw e;
    return e;
  }
}

module.exports = {
  APP_ID,
  APP_KEY,
  APP_SECRET,
  BIN,
  ENCRYPTION_MASTER_KEY,
  FanoutServer,
  PusherClient,
  PusherServer,
  backend,
  channelName,
  client,
  collect,
  connected,
  disconnect,
  disconnectAll,
  errorCode,
  framesOf,
  eventually,
  freePort,
  getJson,
  httpGet,
  rejection,
  sleep,
  startServer,
  subscribeFresh,
  subscribed,
  triggered,
  waitEvent,
  withServer,
};
