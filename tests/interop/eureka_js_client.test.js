// Interoperability: the npm package eureka-js-client (a real, unmodified Eureka client) against
// Orquestra's registry. Usage: node --test eureka_js_client.test.js (ORQUESTRA_BIN = the binary).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { spawn } = require('node:child_process');
const http = require('node:http');
const { Eureka } = require('eureka-js-client');

const BIN = process.env.ORQUESTRA_BIN;
let registry;
let port;

function startRegistry() {
  return new Promise((resolve, reject) => {
    registry = spawn(BIN, ['registry', '--host', '127.0.0.1', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const onData = (chunk) => {
      out += chunk.toString();
      const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) resolve(Number(m[1]));
    };
    registry.stdout.on('data', onData);
    registry.stderr.on('data', onData);
    registry.on('exit', (code) => reject(new Error(`registry exited with ${code}: ${out}`)));
  });
}

function getJson(path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, headers: { Accept: 'application/json' } }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({
        status: res.statusCode,
        body: res.statusCode === 200 ? JSON.parse(body) : body,
      }));
    }).on('error', reject);
  });
}

// Polls `check` until it returns true or the deadline passes; the deadline is generous, the
// condition is what the test asserts.
async function eventually(check, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for: ${what}`);
}

const silent = { debug() {}, info() {}, warn() {}, error() {}, level() {} };

const clients = [];
function client(app, instancePort, servicePath, leaseSecs) {
  const c = new Eureka({
    logger: silent,
    instance: {
      app,
      hostName: `${app.toLowerCase()}-host`,
      ipAddr: '127.0.0.1',
      port: { $: instancePort, '@enabled': true },
      vipAddress: app.toLowerCase(),
      statusPageUrl: `http://127.0.0.1:${instancePort}/info`,
      dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
      leaseInfo: { renewalIntervalInSecs: 1, durationInSecs: leaseSecs },
    },
    eureka: {
      host: '127.0.0.1', port, servicePath,
      heartbeatInterval: 300, registryFetchInterval: 200, maxRetries: 0,
    },
  });
  clients.push(c);
  return c;
}

function startClient(c) {
  return new Promise((resolve, reject) => c.start((err) => (err ? reject(err) : resolve())));
}
function stopClient(c) {
  return new Promise((resolve, reject) => c.stop((err) => (err ? reject(err) : resolve())));
}

before(async () => { port = await startRegistry(); });
after(() => {
  // Whatever a failed test left running must not keep the process alive.
  for (const c of clients) {
    clearInterval(c.heartbeat);
    clearInterval(c.registryFetch);
  }
  if (registry) registry.kill('SIGTERM');
});

test('two clients register, see each other, stay alive on heartbeats, and part', async () => {
  // One client on the Netflix tree, the other on the Spring tree.
  const alpha = client('ALPHA', 5001, '/eureka/v2/apps/', 2);
  const beta = client('BETA', 5002, '/eureka/apps/', 2);
  await startClient(alpha);
  await startClient(beta);

  await eventually(() => alpha.getInstancesByAppId('BETA').length === 1, 'alpha sees beta');
  await eventually(() => beta.getInstancesByAppId('ALPHA').length === 1, 'beta sees alpha');
  assert.strictEqual(alpha.getInstancesByAppId('BETA')[0].hostName, 'beta-host');
  assert.strictEqual(beta.getInstancesByVipAddress('alpha').length, 1);

  // Heartbeats keep both leases (2 s) alive well past their duration.
  await new Promise((r) => setTimeout(r, 4500));
  const all = await getJson('/eureka/v2/apps/');
  assert.strictEqual(all.status, 200);
  const names = all.body.applications.application.map((a) => a.name).sort();
  assert.deepStrictEqual(names, ['ALPHA', 'BETA']);

  // beta deregisters: alpha stops seeing it.
  await stopClient(beta);
  const gone = await getJson('/eureka/v2/apps/BETA');
  assert.strictEqual(gone.status, 404);
  await eventually(() => alpha.getInstancesByAppId('BETA').length === 0, 'alpha stops seeing beta');
  await stopClient(alpha);
});

test('a client that dies without deregistering is evicted after its lease', async () => {
  const gamma = client('GAMMA', 5003, '/eureka/v2/apps/', 2);
  const watcher = client('WATCHER', 5004, '/eureka/v2/apps/', 30);
  await startClient(gamma);
  await startClient(watcher);
  await eventually(() => watcher.getInstancesByAppId('GAMMA').length === 1, 'watcher sees gamma');
  // Simulate a crash: stop gamma's heartbeats without the DELETE.
  clearInterval(gamma.heartbeat);
  clearInterval(gamma.registryFetch);
  const t0 = Date.now();
  await eventually(() => watcher.getInstancesByAppId('GAMMA').length === 0,
    'watcher stops seeing the dead gamma', 15000);
  // Lease 2 s + eviction tick 1 s + fetch interval: well under Eureka's minutes.
  assert.ok(Date.now() - t0 < 6000, `eviction took ${Date.now() - t0} ms`);
  await stopClient(watcher);
});

// A registry node of its own (the cluster test's), resolved with its port once it listens.
const extraNodes = [];
function spawnNode(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, ['registry', '--host', '127.0.0.1', '--port', '0', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    extraNodes.push(proc);
    let out = '';
    const onData = (chunk) => {
      out += chunk.toString();
      const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) resolve(Number(m[1]));
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`registry exited with ${code}: ${out}`)));
  });
}
after(() => { for (const p of extraNodes) p.kill('SIGTERM'); });

function clusterClient(app, instancePort, eureka) {
  const c = new Eureka({
    logger: silent,
    instance: {
      app,
      hostName: `${app.toLowerCase()}-host`,
      ipAddr: '127.0.0.1',
      port: { $: instancePort, '@enabled': true },
      vipAddress: app.toLowerCase(),
      statusPageUrl: `http://127.0.0.1:${instancePort}/info`,
      dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
      leaseInfo: { renewalIntervalInSecs: 1, durationInSecs: 30 },
    },
    eureka: { heartbeatInterval: 300, registryFetchInterval: 200, ...eureka },
  });
  clients.push(c);
  return c;
}

test('clients of two cluster nodes see each other; a dead registry URL is skipped', async () => {
  // B first (port 0), then A replicating to B: one way is enough to show the wire protocol.
  const portB = await spawnNode([]);
  const portA = await spawnNode(['--peers', `http://127.0.0.1:${portB}/eureka`]);
  const atA = clusterClient('DELTA', 5005, {
    // The first URL refuses connections: eureka-js-client moves on to the next one.
    serviceUrls: { default: ['http://127.0.0.1:1/eureka/v2/apps/', `http://127.0.0.1:${portA}/eureka/v2/apps/`] },
    maxRetries: 3, requestRetryDelay: 50,
  });
  const atB = clusterClient('EPSILON', 5006, {
    host: '127.0.0.1', port: portB, servicePath: '/eureka/apps/', maxRetries: 0,
  });
  await startClient(atA);
  await startClient(atB);
  // Registered at A, replicated to B, fetched from B by the other client.
  await eventually(() => atB.getInstancesByAppId('DELTA').length === 1, 'B\'s client sees A\'s');
  assert.strictEqual(atB.getInstancesByAppId('DELTA')[0].hostName, 'delta-host');
  // Deregistered at A: gone at B too.
  await stopClient(atA);
  await eventually(() => atB.getInstancesByAppId('DELTA').length === 0, 'gone at B');
  await stopClient(atB);
});
