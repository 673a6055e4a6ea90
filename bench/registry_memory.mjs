// Registry memory benchmark (not a test): starts `orquestra registry`, registers N instances
// (~1.4 KB each as JSON, 100 per app) over real HTTP, and prints the server's RSS after
// registering and after serving every kind of read once — full fetches (JSON and XML, gzip and
// plain) and every app's lookup (JSON and XML, gzip and plain) — then the throughput of
// renewals, one-app lookups and full fetches (wrk, as bench/registry_load.sh runs it). RSS is
// read again 16 s after each phase, once the registry has had a quiet interval.
//
// Usage: node bench/registry_memory.mjs [instances=10000] [build/orquestra]
//        (THROUGHPUT=0 skips the wrk phases; DUR=5s sets their length)
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const total = Number(process.argv[2] ?? 10000);
const binary = process.argv[3] ?? join(here, '..', 'build', 'orquestra');
const perApp = 100;
const apps = Math.max(1, Math.ceil(total / perApp));
const dur = process.env.DUR ?? '5s';
const pad = 'x'.repeat(420);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

function request(port, method, path, headers = {}, body = undefined) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      let bytes = 0;
      res.on('data', (d) => { bytes += d.length; });
      res.on('end', () => resolve({ status: res.statusCode, bytes, headers: res.headers }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// The same instance shape as bench/registry/register.lua.
function instanceBody(n) {
  const app = `APP${n % apps}`;
  const host = `host-${n}.example.internal`;
  return [app, JSON.stringify({ instance: {
    instanceId: `inst-${n}`, hostName: host, app,
    ipAddr: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, status: 'UP',
    port: { $: 8080, '@enabled': 'true' }, securePort: { $: 8443, '@enabled': 'false' },
    vipAddress: app.toLowerCase(), secureVipAddress: app.toLowerCase(),
    homePageUrl: `http://${host}:8080/`, statusPageUrl: `http://${host}:8080/info`,
    healthCheckUrl: `http://${host}:8080/health`,
    dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo',
      name: 'MyOwn' },
    leaseInfo: { renewalIntervalInSecs: 30, durationInSecs: 3600 },
    metadata: { zone: `zone-${n % 3}`, version: '1.2.3', build: pad },
  } })];
}

const rss = (pid) => {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  return `${(kb / 1024).toFixed(1)} MB`;
};

async function pool(count, concurrency, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) await fn(next++);
  }));
}

function wrk(url, args, env = {}) {
  const out = execFileSync('wrk', [...args, url], {
    env: { ...process.env, ...env }, encoding: 'utf8', cwd: join(here, '..'),
  });
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(out)[1];
  const non2xx = /Non-2xx[^\n]*/.exec(out);
  const p50 = args.includes('--latency') ? /50%\s+(\S+)/.exec(out) : null;
  return `${Math.round(Number(rate))}/s${p50 ? `, p50 ${p50[1]}` : ''}` +
         `${non2xx ? ` (${non2xx[0]})` : ''}`;
}

const child = spawn(binary, ['registry', '--host', '127.0.0.1', '--port', '0',
  '--no-self-preservation'], { stdio: ['ignore', 'pipe', 'pipe'] });
let log = '';
child.stdout.on('data', (d) => { log += d; });
child.stderr.on('data', (d) => { log += d; });
try {
  let port;
  for (let i = 0; i < 200 && !port; ++i) {
    port = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log)?.[1];
    if (!port) await sleep(25);
  }
  if (!port) throw new Error(`registry did not start:\n${log}`);
  const url = `http://127.0.0.1:${port}`;
  console.log(`registry pid ${child.pid} on ${url}: ${total} instances in ${apps} apps`);
  console.log(`RSS at start:                  ${rss(child.pid)}`);

  let t0 = performance.now();
  await pool(total, 32, async (n) => {
    const [app, body] = instanceBody(n);
    const r = await request(port, 'POST', `/eureka/v2/apps/${app}`,
      { 'Content-Type': 'application/json' }, body);
    if (r.status !== 204) throw new Error(`register inst-${n}: HTTP ${r.status}`);
  });
  const regSecs = (performance.now() - t0) / 1000;
  const status = await new Promise((resolve) => http.get(`${url}/eureka/v2/status`, (res) => {
    let s = ''; res.on('data', (d) => { s += d; }); res.on('end', () => resolve(JSON.parse(s)));
  }));
  if (status.instances !== total) throw new Error(`registry holds ${status.instances}`);
  console.log(`registered in ${regSecs.toFixed(1)} s (${Math.round(total / regSecs)}/s)`);
  console.log(`RSS after registering:         ${rss(child.pid)}`);

  const sizes = [];
  for (const fmt of ['json', 'xml']) {
    for (const gzip of [false, true]) {
      const r = await request(port, 'GET', '/eureka/v2/apps/', {
        Accept: `application/${fmt}`, 'Accept-Encoding': gzip ? 'gzip' : 'identity' });
      sizes.push(`${fmt}${gzip ? '+gzip' : ''} ${(r.bytes / 1e6).toFixed(1)} MB`);
    }
  }
  console.log(`full fetches: ${sizes.join(', ')}`);
  console.log(`RSS after full fetches:        ${rss(child.pid)}`);
  t0 = performance.now();
  await pool(apps * 4, 8, async (k) => {
    const app = `APP${k >> 2}`;
    const r = await request(port, 'GET', `/eureka/v2/apps/${app}`, {
      Accept: k & 1 ? 'application/xml' : 'application/json',
      'Accept-Encoding': k & 2 ? 'gzip' : 'identity' });
    if (r.status !== 200) throw new Error(`lookup ${app}: HTTP ${r.status}`);
  });
  console.log(`every app looked up (JSON, XML; gzip and plain) in ${
    ((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`RSS after full fetches and lookups: ${rss(child.pid)}`);
  // The registry gives freed pages back once it has been quiet for a while (5 s;
  // it looks every 5 s, so within about 10 s of the last request).
  await sleep(16000);
  console.log(`RSS 16 s later:                ${rss(child.pid)}`);

  if (process.env.THROUGHPUT !== '0') {
    const env = { INSTANCES: String(total), APPS: String(apps) };
    console.log(`renewals:                ${wrk(url, ['-t2', '-c64', `-d${dur}`, '-s',
      'bench/registry/renew.lua'], env)}`);
    console.log(`one-app lookups (JSON):  ${wrk(url, ['-t2', '-c64', `-d${dur}`, '-s',
      'bench/registry/lookup.lua'], env)}`);
    console.log(`one-app lookups (JSON, gzip): ${wrk(url, ['-t2', '-c64', `-d${dur}`, '-s',
      'bench/registry/lookup.lua'], { ...env, GZIP: '1' })}`);
    for (const fmt of ['json', 'xml']) {
      for (const gzip of [true, false]) {
        const headers = ['-H', `Accept: application/${fmt}`];
        if (gzip) headers.push('-H', 'Accept-Encoding: gzip');
        console.log(`full fetch ${fmt}${gzip ? ' gzip' : ''}:`.padEnd(25) +
          wrk(`${url}/eureka/v2/apps/`, ['-t1', '-c2', `-d${dur}`, '--latency', ...headers]));
      }
    }
    console.log(`RSS at the end:          ${rss(child.pid)}`);
    await sleep(16000);
    console.log(`RSS 16 s later:          ${rss(child.pid)}`);
  }
} finally {
  child.kill('SIGTERM');
  agent.destroy();
}
