// Development only: serves a built console (dist/) with the production CSP and emulates the
// console's own endpoints (/api/v1/ui/...) on top of a running `orquestra standalone` reached with
// HTTP Basic, so the pages can be worked on before (or without) the server's console handlers.
// The real server implements these endpoints; this file is not shipped, and tests never use it.
//
//   node src/web/ui/dev/dev_server.mjs [--dist src/web/ui/dist] [--port 5173]
//        [--upstream http://127.0.0.1:8080] [--registry http://127.0.0.1:8761] [--proxy-only]
//
// With --proxy-only, every /api/ request goes to the upstream server as it came (cookie, CSRF
// and all): for a server that has the console endpoints, with a front end built apart.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, resolve } from 'node:path';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const dist = resolve(arg('dist', 'src/web/ui/dist'));
const port = Number(arg('port', '5173'));
const upstream = arg('upstream', 'http://127.0.0.1:8080');
const registry = arg('registry', 'http://127.0.0.1:8761');
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const proxyOnly = process.argv.includes('--proxy-only');
const sessions = new Map(); // id -> {username, role, csrf_token, auth}
const roles = { admin: 'Admin', viewer: 'Viewer', op: 'Op' };

const problem = (res, status, title, detail) => {
  res.writeHead(status, { 'Content-Type': 'application/problem+json' });
  res.end(JSON.stringify({ status, title, detail, type: 'about:blank' }));
};
const json = (res, status, body, headers = {}) => {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};
const readBody = (req) => new Promise((r) => {
  let b = '';
  req.on('data', (d) => (b += d));
  req.on('end', () => r(b));
});
const up = async (auth, path, init = {}) => {
  const res = await fetch(upstream + '/api/v1' + path, { ...init, headers: { Authorization: auth, Accept: 'application/json', ...(init.headers ?? {}) } });
  if (!res.ok) throw Object.assign(new Error(await res.text()), { status: res.status });
  return res.json();
};
const sessionOf = (req) => {
  const m = /orquestra_session=([^;]+)/.exec(req.headers.cookie ?? '');
  return m ? sessions.get(m[1]) : undefined;
};

// Which service each task calls, read from the DAG file (dev approximation of the server's model).
function taskShapes(fileloc, tasks) {
  const text = existsSync(fileloc) ? readFileSync(fileloc, 'utf8') : '';
  const out = {};
  let current = null;
  let inTasks = false;
  for (const line of text.split('\n')) {
    if (/^tasks:/.test(line)) { inTasks = true; continue; }
    if (inTasks && /^\S/.test(line)) inTasks = false;
    if (!inTasks) continue;
    const t = /^ {2}([A-Za-z0-9_.-]+):\s*$/.exec(line);
    if (t) { current = out[t[1]] = { kind: 'command', service: null, method: null, path: null }; continue; }
    if (!current) continue;
    if (/^ {4}http:/.test(line)) current.kind = 'http';
    if (/^ {4}wait_for_service:/.test(line)) current.kind = 'wait_for_service';
    const kv = /^ {6}(service|method|path):\s*"?([^"]*)"?\s*$/.exec(line);
    if (kv) current[kv[1]] = kv[1] === 'service' ? kv[2].toUpperCase() : kv[2];
  }
  return tasks.map((t) => {
    const s = out[t.task_id] ?? { kind: 'command', service: null, method: null, path: null };
    const upstream_task_ids = tasks.filter((o) => o.downstream_task_ids.includes(t.task_id)).map((o) => o.task_id);
    return { task_id: t.task_id, ...s, trigger_rule: t.trigger_rule, downstream_task_ids: t.downstream_task_ids, upstream_task_ids };
  });
}

async function registryApps() {
  const res = await fetch(registry + '/eureka/apps', { headers: { Accept: 'application/json' } });
  const body = await res.json();
  let apps = body.applications?.application ?? [];
  if (!Array.isArray(apps)) apps = [apps];
  return apps.map((a) => ({
    name: a.name,
    instances: (Array.isArray(a.instance) ? a.instance : [a.instance]).filter(Boolean).map((i) => {
      const meta = { ...(i.metadata ?? {}) };
      delete meta['@class'];
      const iso = (ms) => (ms ? new Date(ms).toISOString() : null);
      return {
        instance_id: i.instanceId, app: i.app, host_name: i.hostName, ip_addr: i.ipAddr, port: i.port?.$ ?? i.port,
        status: i.status, overridden_status: i.overriddenStatus ?? i.overriddenstatus ?? 'UNKNOWN', zone: meta.zone ?? null,
        metadata: meta, last_renewal: iso(i.leaseInfo?.lastRenewalTimestamp),
        lease_expires: iso(i.leaseInfo?.lastRenewalTimestamp + 1000 * (i.leaseInfo?.durationInSecs ?? 90)),
        registered_at: iso(i.leaseInfo?.registrationTimestamp), home_page_url: i.homePageUrl, status_page_url: i.statusPageUrl,
        health_check_url: i.healthCheckUrl,
      };
    }),
  }));
}

async function uiDags(auth, n) {
  const { dags } = await up(auth, '/dags?limit=100');
  const { import_errors } = await up(auth, '/importErrors');
  const apps = await registryApps().catch(() => []);
  const out = [];
  for (const d of dags) {
    const { dag_runs } = await up(auth, `/dags/${encodeURIComponent(d.dag_id)}/dagRuns?limit=100&order_by=-id`);
    const counts = { queued: 0, running: 0, success: 0, failed: 0 };
    for (const r of dag_runs) counts[r.state] = (counts[r.state] ?? 0) + 1;
    const { tasks } = await up(auth, `/dags/${encodeURIComponent(d.dag_id)}/tasks`);
    const shapes = taskShapes(d.fileloc, tasks);
    const names = [...new Set(shapes.map((s) => s.service).filter(Boolean))];
    out.push({
      ...d,
      recent_runs: dag_runs.slice(0, n).map(({ dag_run_id, state, run_type, logical_date, start_date, end_date }) => ({ dag_run_id, state, run_type, logical_date, start_date, end_date })),
      run_counts: counts,
      services: names.map((name) => {
        const a = apps.find((x) => x.name === name);
        return { name, up: a ? a.instances.filter((i) => i.status === 'UP').length : 0, total: a ? a.instances.length : 0 };
      }),
    });
  }
  return { dags: out, import_errors: import_errors.map((e) => ({ ...e, line: null })) };
}

async function uiGrid(auth, dagId, n) {
  const id = encodeURIComponent(dagId);
  const dag = await up(auth, `/dags/${id}`);
  const { tasks } = await up(auth, `/dags/${id}/tasks`);
  const { dag_runs } = await up(auth, `/dags/${id}/dagRuns?limit=${n}&order_by=-id`);
  const runs = [];
  for (const r of dag_runs) {
    const { task_instances } = await up(auth, `/dags/${id}/dagRuns/${encodeURIComponent(r.dag_run_id)}/taskInstances`);
    const tis = {};
    for (const t of task_instances) {
      tis[t.task_id] = { state: t.state, try_number: t.try_number, start_date: t.start_date, end_date: t.end_date, duration: t.duration, queued_when: t.queued_when, served_by: t.served_by ?? '' };
    }
    runs.push({ ...r, task_instances: tis });
  }
  return { dag_id: dagId, tasks: taskShapes(dag.fileloc, tasks), runs };
}

async function uiServices(auth) {
  const apps = await registryApps();
  const { dags } = await uiDags(auth, 5);
  const byName = new Map(apps.map((a) => [a.name, { ...a, used_by: [] }]));
  for (const d of dags) {
    const { tasks } = await up(auth, `/dags/${encodeURIComponent(d.dag_id)}/tasks`);
    for (const t of taskShapes(d.fileloc, tasks)) {
      if (!t.service) continue;
      if (!byName.has(t.service)) byName.set(t.service, { name: t.service, instances: [], used_by: [] });
      byName.get(t.service).used_by.push({ dag_id: d.dag_id, task_id: t.task_id, kind: t.kind, last_runs: d.recent_runs.map((r) => ({ dag_run_id: r.dag_run_id, state: r.state })) });
    }
  }
  const all = apps.flatMap((a) => a.instances);
  return {
    registry: { self_preservation_enabled: true, self_preservation_active: false, renews_last_minute: all.length * 12, renews_threshold: Math.floor(all.length * 12 * 0.85), expected_renews_per_minute: all.length * 12, instances: all.length, up: all.filter((i) => i.status === 'UP').length },
    apps: [...byName.values()],
  };
}

async function handleUi(req, res, path) {
  if (path === '/api/v1/ui/session') {
    if (req.method === 'POST') {
      const { username, password } = JSON.parse((await readBody(req)) || '{}');
      const auth = 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64');
      const check = await fetch(upstream + '/api/v1/dags?limit=1', { headers: { Authorization: auth } });
      if (check.status === 429) { res.setHeader('Retry-After', check.headers.get('Retry-After') ?? '1'); return problem(res, 429, 'Too Many Requests', 'slow down'); }
      if (!check.ok) return problem(res, 401, 'Unauthorized', 'wrong username or password');
      const id = randomBytes(16).toString('hex');
      const s = { username, role: roles[username] ?? 'User', csrf_token: randomBytes(16).toString('hex'), auth };
      sessions.set(id, s);
      return json(res, 200, { username, role: s.role, csrf_token: s.csrf_token }, { 'Set-Cookie': `orquestra_session=${id}; Path=/; HttpOnly; SameSite=Strict` });
    }
    const s = sessionOf(req);
    if (req.method === 'DELETE') { res.writeHead(204, { 'Set-Cookie': 'orquestra_session=; Path=/; Max-Age=0' }); return res.end(); }
    if (!s) return problem(res, 401, 'Unauthorized', 'not logged in');
    return json(res, 200, { username: s.username, role: s.role, csrf_token: s.csrf_token });
  }
  const s = sessionOf(req);
  if (!s) return problem(res, 401, 'Unauthorized', 'not logged in');
  const url = new URL(req.url, 'http://x');
  const n = Number(url.searchParams.get('runs') ?? 0);
  if (path === '/api/v1/ui/dags') return json(res, 200, await uiDags(s.auth, Math.min(25, n || 10)));
  let m = /^\/api\/v1\/ui\/dags\/([^/]+)\/grid$/.exec(path);
  if (m) return json(res, 200, await uiGrid(s.auth, decodeURIComponent(m[1]), Math.min(100, n || 25)));
  if (path === '/api/v1/ui/services') return json(res, 200, await uiServices(s.auth));
  m = /^\/api\/v1\/ui\/services\/([^/]+)\/instances\/([^/]+)\/status$/.exec(path);
  if (m && (req.method === 'PUT' || req.method === 'DELETE')) {
    if (req.headers['x-csrf-token'] !== s.csrf_token) return problem(res, 403, 'Forbidden', 'missing or wrong CSRF token');
    if (!['Op', 'Admin'].includes(s.role)) return problem(res, 403, 'Forbidden', 'role may not');
    const q = req.method === 'PUT' ? '?value=OUT_OF_SERVICE' : '';
    const r = await fetch(`${registry}/eureka/apps/${m[1]}/${m[2]}/status${q}`, { method: req.method });
    return json(res, r.ok ? 200 : r.status, {});
  }
  return problem(res, 404, 'Not Found', 'no such console endpoint');
}

const types = { '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.html': 'text/html; charset=utf-8' };
createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  try {
    if (proxyOnly && path.startsWith('/api/')) {
      const body = ['GET', 'HEAD'].includes(req.method) ? undefined : await readBody(req);
      const headers = { ...req.headers };
      delete headers.host;
      delete headers['content-length'];
      const r = await fetch(upstream + req.url, { method: req.method, headers, body, redirect: 'manual' });
      const out = {};
      r.headers.forEach((v, k) => {
        if (!['content-encoding', 'content-length', 'transfer-encoding', 'connection', 'set-cookie'].includes(k)) out[k] = v;
      });
      const cookies = r.headers.getSetCookie?.() ?? [];
      if (cookies.length) out['set-cookie'] = cookies;
      res.writeHead(r.status, out);
      return res.end(Buffer.from(await r.arrayBuffer()));
    }
    if (path.startsWith('/api/v1/ui/')) return await handleUi(req, res, path);
    if (path.startsWith('/api/')) {
      const s = sessionOf(req);
      if (!s && !/^\/api\/v1\/(health|version)$/.test(path)) return problem(res, 401, 'Unauthorized', 'not logged in');
      if (s && ['POST', 'PUT', 'PATCH', 'DELETE'].includes(req.method) && req.headers['x-csrf-token'] !== s.csrf_token)
        return problem(res, 403, 'Forbidden', 'missing or wrong CSRF token');
      const body = ['GET', 'HEAD'].includes(req.method) ? undefined : await readBody(req);
      const r = await fetch(upstream + req.url, {
        method: req.method,
        headers: { Accept: req.headers.accept ?? 'application/json', ...(s ? { Authorization: s.auth } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
        body,
      });
      res.writeHead(r.status, { 'Content-Type': r.headers.get('Content-Type') ?? 'application/json' });
      return res.end(Buffer.from(await r.arrayBuffer()));
    }
    if (path.startsWith('/assets/')) {
      const file = join(dist, path);
      if (!file.startsWith(dist) || !existsSync(file)) { res.writeHead(404); return res.end(); }
      res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream', 'Content-Security-Policy': CSP });
      return res.end(readFileSync(file));
    }
    const known = /^\/(login|dags(\/[^/]+(\/trigger|\/runs\/[^/]+(\/tasks\/[^/]+)?)?)?|services(\/[^/]+)?)?\/?$/.test(path);
    res.writeHead(known ? 200 : 404, { 'Content-Type': types['.html'], 'Content-Security-Policy': CSP, 'Cache-Control': 'no-cache' });
    res.end(readFileSync(join(dist, 'index.html')));
  } catch (e) {
    problem(res, e.status ?? 500, 'Error', String(e.message ?? e));
  }
}).listen(port, '127.0.0.1', () => console.log(`console dev server on http://127.0.0.1:${port}`));
