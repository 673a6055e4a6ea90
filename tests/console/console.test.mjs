// The console in a real browser (Debian's Chromium through playwright-core) against a real
// `orquestra standalone --examples`: the seed lesson's scenario (see the DAG, trigger it with
// usuario_id, watch it, read the log, look at the services), roles, CSRF, the 404 page, a
// forged session, and API text that must stay text. Every wait polls a condition with a
// deadline. Screenshots of every page go to $ORQUESTRA_SCREENSHOT_DIR.
//
//   ORQUESTRA_BIN=build/orquestra NODE_PATH=src/web/ui/node_modules node --test tests/console/console.test.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// playwright-core lives in src/web/ui/node_modules (NODE_PATH); ES imports ignore NODE_PATH.
const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const BIN = resolve(process.env.ORQUESTRA_BIN ?? 'build/orquestra');
const SHOTS = resolve(process.env.ORQUESTRA_SCREENSHOT_DIR ?? 'build/console-screenshots');
const ADMIN_PASSWORD = 'console-admin-secret';
const VIEWER_PASSWORD = 'console-viewer-secret';
const DAG = 'servico_usuarios_mensagens';
const PROBE_DAG = 'console_xss_probe';
const FOLLOW_DAG = 'console_follow_probe';
const PAYLOAD = (n) => `<img src=x onerror="window.__xss=${n}">`;

let home;
let server;
let out = '';
let base; // where the browser goes
let apiBase; // the server, for set-up calls with HTTP Basic
let registry;
let browser;
let admin; // the admin's page, logged in by the first tests
let triggeredRun;

const deadline = (ms) => Date.now() + ms;
async function waitFor(what, fn, ms = 15000) {
  const end = deadline(ms);
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const basic = 'Basic ' + Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64');
async function api(method, path, body) {
  const res = await fetch(`${apiBase}/api/v1${path}`, {
    method,
    headers: { Authorization: basic, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text };
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function newPage(width = 1280, height = 900) {
  const context = await browser.newContext({ viewport: { width, height }, baseURL: base });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) page.errors.push(m.text());
  });
  return page;
}

async function login(page, username, password) {
  await page.goto('/login');
  await page.fill('#login-username', username);
  await page.fill('#login-password', password);
  await page.click('form button[type=submit]');
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  home = mkdtempSync(join(tmpdir(), 'orquestra-console-'));
  mkdirSync(join(home, 'dags'), { recursive: true });
  // A DAG whose description and log carry markup: the console must show it as text.
  writeFileSync(join(home, 'dags', `${PROBE_DAG}.yaml`), [
    `dag_id: ${PROBE_DAG}`,
    `description: '${PAYLOAD(1)} probe'`,
    'schedule: none',
    'start_date: 2024-01-01',
    'is_paused_upon_creation: false',
    'tags: [probe]',
    'tasks:',
    '  echo_payload:',
    `    command: [/bin/echo, '${PAYLOAD(2)}']`,
    '',
  ].join('\n'));
  // A task that writes one line, waits until the test opens a gate (a file), then writes
  // another: the log must follow it live, and nothing races (the second line cannot come first).
  writeFileSync(join(home, 'dags', `${FOLLOW_DAG}.yaml`), [
    `dag_id: ${FOLLOW_DAG}`,
    'schedule: none',
    'start_date: 2024-01-01',
    'is_paused_upon_creation: false',
    'tasks:',
    '  slow:',
    '    command:',
    '      script: |',
    '        echo "first line"',
    `        while [ ! -e '${join(home, 'follow.gate')}' ]; do sleep 0.05; done`,
    '        echo "second line"',
    '',
  ].join('\n'));

  server = spawn(BIN, ['standalone', '--examples', '--home', home, '--port', '0', '--registry-port', '0'], {
    env: { ...process.env, ORQUESTRA_ADMIN_PASSWORD: ADMIN_PASSWORD },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout.on('data', (d) => { out += d; });
  server.stderr.on('data', (d) => { out += d; });
  await waitFor('the server to be ready', () => out.includes('Ready.') || server.exitCode !== null, 30000);
  assert.ok(out.includes('Ready.'), `standalone did not start:\n${out}`);
  base = apiBase = /REST API +(http:\/\/[\d.:]+)\/api\/v1/.exec(out)[1];
  registry = /registry +(http:\/\/[\d.:]+)\/eureka/.exec(out)[1];

  execFileSync(BIN, ['users', 'create', '--home', home, '-u', 'viewer', '-p', VIEWER_PASSWORD, '-r', 'Viewer',
    '-e', 'v@x', '-f', 'V', '-l', 'V'], { stdio: 'pipe' });

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  admin = await newPage();
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  if (home) rmSync(home, { recursive: true, force: true });
});

test('a wrong password is refused, the right one logs in', async () => {
  await login(admin, 'admin', 'not-the-password');
  await waitFor('the wrong-password message', async () =>
    (await admin.locator('[role=alert]').textContent().catch(() => ''))?.includes('Wrong username or password'));
  await shot(admin, 'login-wrong-password');
  await admin.fill('#login-password', ADMIN_PASSWORD);
  await admin.click('form button[type=submit]');
  await waitFor('the top bar', () => admin.locator('.topbar').isVisible());
  assert.equal(new URL(admin.url()).pathname, '/');
  await waitFor('the overview', () => admin.locator('#health-h').isVisible());
  await shot(admin, 'overview');
});

test('the DAG list shows the seed DAG, with both services', async () => {
  await admin.click('nav.mainnav >> text=DAGs');
  const link = admin.locator(`a.dag-id:text-is("${DAG}")`);
  await waitFor('the seed DAG', () => link.isVisible());
  const row = admin.locator('tr', { has: link });
  await waitFor('the services of the seed DAG', async () => {
    const text = (await row.locator('.svc-list').textContent()).toUpperCase();
    return text.includes('SERVICO_USUARIOS') && text.includes('SERVICO_MENSAGENS');
  });
  await shot(admin, 'dags');

  const phone = await newPage(360, 780);
  await login(phone, 'admin', ADMIN_PASSWORD);
  await waitFor('the top bar on a phone', () => phone.locator('.topbar').isVisible());
  await phone.goto('/dags');
  await waitFor('the DAG cards', () => phone.locator(`.dag-card a.dag-id:text-is("${DAG}")`).isVisible());
  const width = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 360, `the DAG list is ${width} px wide on a 360 px screen`);
  await shot(phone, 'dags-360');
  await phone.context().close();
});

test('the DAG page opens on its grid and its tabs', async () => {
  await admin.click(`a.dag-id:text-is("${DAG}")`);
  await waitFor('the DAG page', () => admin.locator('.dag-title').isVisible());
  assert.equal(new URL(admin.url()).pathname, `/dags/${DAG}`);
  await waitFor('the grid', () => admin.locator('[role=grid]').isVisible());
  await shot(admin, 'dag-grid');
  for (const tab of ['graph', 'gantt', 'runs', 'code', 'details']) {
    await admin.click(`nav.tabs a:text-is("${tab[0].toUpperCase() + tab.slice(1)}")`);
    await waitFor(`the ${tab} tab`, () => new URL(admin.url()).searchParams.get('tab') === tab);
    if (tab === 'graph') await waitFor('the graph', () => admin.locator('svg.graph .node').first().isVisible());
    if (tab === 'details') await waitFor('the details', () => admin.locator('.details-grid').isVisible());
    await admin.waitForLoadState('networkidle', { timeout: 3000 }).catch(() => {});
    await shot(admin, `dag-${tab}`);
  }
});

test('triggering with usuario_id 2 from the form runs to success, seen live in grid and graph', async () => {
  await admin.goto(`/dags/${DAG}`);
  await admin.evaluate(() => { window.__noReload = true; });
  await admin.click('a.trigger-btn');
  await waitFor('the trigger form', () => admin.locator('#param-usuario_id').isVisible());
  assert.equal(await admin.inputValue('#param-usuario_id'), '1', 'the default is filled in');
  await admin.fill('#param-usuario_id', '2');
  const conf = JSON.parse(await admin.inputValue('#trigger-conf'));
  assert.deepEqual(conf, { usuario_id: 2 }, 'the JSON editor follows the field');
  await shot(admin, 'trigger');
  await admin.click('form.trigger-form button[type=submit]');
  await waitFor('the DAG page with the new run', () => new URL(admin.url()).searchParams.get('run'));
  const url = new URL(admin.url());
  assert.equal(url.pathname, `/dags/${DAG}`);
  triggeredRun = url.searchParams.get('run');
  const run = await api('GET', `/dags/${DAG}/dagRuns/${encodeURIComponent(triggeredRun)}`);
  assert.equal(run.status, 200);
  assert.deepEqual(run.json.conf, { usuario_id: 2 });

  const cell = (task) => admin.locator(`[role=gridcell][data-run="${triggeredRun}"][data-task="${task}"]`);
  await waitFor('enviar_mensagem to succeed in the grid', async () => (await cell('enviar_mensagem').getAttribute('data-state')) === 'success');
  assert.equal(await cell('obter_usuario').getAttribute('data-state'), 'success');
  assert.match(await cell('enviar_mensagem').getAttribute('aria-label'), /success/);
  await shot(admin, 'dag-grid-after-trigger');

  await admin.click('nav.tabs a:text-is("Graph")');
  const node = (task) => admin.locator(`svg.graph .node[data-task="${task}"]`);
  await waitFor('the graph to show success', async () =>
    (await node('enviar_mensagem').getAttribute('data-state')) === 'success' &&
    (await node('obter_usuario').getAttribute('data-state')) === 'success');
  const svcText = await node('obter_usuario').textContent();
  assert.match(svcText, /SERVICO_USUARIOS/i);
  assert.match(svcText, /2\/2 UP/);
  assert.equal(await admin.evaluate(() => window.__noReload), true, 'the page was not reloaded');
  await shot(admin, 'dag-graph-after-trigger');
});

test("enviar_mensagem's try shows the message in its log, its request and its output", async () => {
  // Through the grid with the keyboard: focus a cell, arrow down, Enter opens the try.
  await admin.click('nav.tabs a:text-is("Grid")');
  await admin.locator(`[role=gridcell][data-run="${triggeredRun}"][data-task="obter_usuario"]`).focus();
  await admin.keyboard.press('ArrowDown');
  await waitFor('the focus to move down the grid', () =>
    admin.evaluate(() => document.activeElement?.getAttribute('data-task') === 'enviar_mensagem'));
  await admin.keyboard.press('Enter');
  await waitFor('the task page', () => new URL(admin.url()).pathname.endsWith('/tasks/enviar_mensagem'));
  assert.equal(new URL(admin.url()).pathname,
    `/dags/${DAG}/runs/${encodeURIComponent(triggeredRun)}/tasks/enviar_mensagem`);
  const log = admin.locator('[role=log]');
  await waitFor('the message line in the log', async () => (await log.textContent()).includes('Mensagem automática do Orquestra'));
  await waitFor('the output', async () => (await admin.locator('pre.output').textContent().catch(() => '')).includes('enviada'));
  await shot(admin, 'task-try');

  // Clear asks first, listing what the server's dry run would clear; Escape cancels and gives
  // the focus back to the button.
  const clear = admin.locator('.page-header button', { hasText: 'Clear' });
  await clear.click();
  const dialog = admin.locator('dialog[open]');
  await waitFor('the dry run list', async () => (await dialog.locator('.dry-run-list').textContent().catch(() => '')).includes('enviar_mensagem'));
  await shot(admin, 'task-clear-dialog');
  await admin.keyboard.press('Escape');
  await waitFor('the dialog to close', async () => (await admin.locator('dialog[open]').count()) === 0);
  assert.equal(await admin.evaluate(() => document.activeElement?.textContent?.includes('Clear')), true, 'focus returns to the button');

  await admin.click(`nav.crumbs a:text-is("${triggeredRun}")`);
  await waitFor('the run page', () => admin.locator('tr[data-task="enviar_mensagem"]').isVisible());
  await shot(admin, 'run');
});

test('usuario_id 0 is refused by the server, its message beside the field', async () => {
  await admin.goto(`/dags/${DAG}/trigger`);
  await waitFor('the trigger form', () => admin.locator('#param-usuario_id').isVisible());
  await admin.fill('#param-usuario_id', '0');
  await admin.click('form.trigger-form button[type=submit]');
  const error = admin.locator('#param-usuario_id-error');
  await waitFor('the field error', () => error.isVisible());
  assert.match(await error.textContent(), /usuario_id/);
  assert.equal(await admin.getAttribute('#param-usuario_id', 'aria-invalid'), 'true');
  assert.match(await admin.getAttribute('#param-usuario_id', 'aria-describedby'), /param-usuario_id-error/);
  assert.equal(new URL(admin.url()).pathname, `/dags/${DAG}/trigger`, 'no navigation on a refused trigger');
  await shot(admin, 'trigger-invalid');
});

test('a Viewer sees no trigger button, and the server refuses its forced POST', async () => {
  const viewer = await newPage();
  await login(viewer, 'viewer', VIEWER_PASSWORD);
  await waitFor('the top bar', () => viewer.locator('.topbar').isVisible());
  await viewer.goto('/dags');
  await waitFor('the seed DAG', () => viewer.locator(`a.dag-id:text-is("${DAG}")`).isVisible());
  assert.equal(await viewer.locator('.trigger-btn').count(), 0);
  assert.equal(await viewer.locator('[role=switch]').count(), 0, 'no pause switch for a Viewer');
  await viewer.goto(`/dags/${DAG}`);
  await waitFor('the DAG page', () => viewer.locator('[role=grid]').isVisible());
  assert.equal(await viewer.locator('.trigger-btn').count(), 0);
  assert.equal(await viewer.locator('[role=switch]').count(), 0);
  await viewer.goto('/services');
  await waitFor('the services page', () => viewer.locator('tr[data-instance]').first().isVisible());
  assert.equal(await viewer.locator('button', { hasText: 'Out of service' }).count(), 0, 'no OUT_OF_SERVICE button for a Viewer');
  await shot(viewer, 'dag-as-viewer');
  const status = await viewer.evaluate(async (dag) => {
    const h = { 'X-Requested-With': 'orquestra-console' };
    const session = await (await fetch('/api/v1/ui/session', { headers: h, credentials: 'same-origin' })).json();
    const res = await fetch(`/api/v1/dags/${dag}/dagRuns`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { ...h, 'X-CSRF-Token': session.csrf_token, 'Content-Type': 'application/json' },
      body: JSON.stringify({ conf: { usuario_id: 1 } }),
    });
    return res.status;
  }, DAG);
  assert.equal(status, 403);
  await viewer.context().close();
});

test('a state-changing call without the CSRF token is refused', async () => {
  await admin.goto('/dags');
  const result = await admin.evaluate(async (dag) => {
    const h = { 'X-Requested-With': 'orquestra-console', 'Content-Type': 'application/json' };
    const without = await fetch(`/api/v1/dags/${dag}/dagRuns`, { method: 'POST', credentials: 'same-origin', headers: h, body: '{"conf":{"usuario_id":1}}' });
    const wrong = await fetch(`/api/v1/dags/${dag}?update_mask=is_paused`, { method: 'PATCH', credentials: 'same-origin', headers: { ...h, 'X-CSRF-Token': 'forged' }, body: '{"is_paused":true}' });
    return [without.status, wrong.status];
  }, DAG);
  assert.deepEqual(result, [403, 403]);
  const dag = await api('GET', `/dags/${DAG}`);
  assert.equal(dag.json.is_paused, false, 'the refused PATCH changed nothing');
});

test('the services page: two SERVICO_USUARIOS instances, one set OUT_OF_SERVICE and back', async () => {
  await admin.click('nav.mainnav >> text=Services');
  const app = admin.locator('section[data-app="SERVICO_USUARIOS"]');
  await waitFor('two SERVICO_USUARIOS instances', async () => (await app.locator('tr[data-instance]').count()) === 2);
  for (const name of ['SERVICO_USUARIOS', 'SERVICO_MENSAGENS']) {
    const usedBy = admin.locator(`section[data-app="${name}"] .used-by`);
    await waitFor(`${name} used by the seed DAG`, async () => (await usedBy.textContent()).includes(DAG));
  }
  await shot(admin, 'services');
  const row = app.locator('tr[data-instance]').first();
  const id = await row.getAttribute('data-instance');
  await row.locator('button', { hasText: 'Out of service' }).click();
  const dialog = admin.locator('dialog[open]');
  await waitFor('the confirm dialog', () => dialog.isVisible());
  await shot(admin, 'services-confirm');
  await dialog.locator('button', { hasText: 'Take out of service' }).click();
  const same = app.locator(`tr[data-instance="${id}"]`);
  await waitFor('the instance to be OUT_OF_SERVICE', async () => (await same.getAttribute('data-status')) === 'OUT_OF_SERVICE');
  assert.match(await same.textContent(), /OUT OF SERVICE/);
  await shot(admin, 'services-out-of-service');
  await same.locator('button', { hasText: 'Back to UP' }).click();
  await waitFor('the instance to be UP again', async () => (await same.getAttribute('data-status')) === 'UP');

  await admin.click('section[data-app="SERVICO_USUARIOS"] h2 a');
  await waitFor('the service page', () => admin.locator('tr[data-instance]').first().isVisible());
  assert.equal(new URL(admin.url()).pathname, '/services/SERVICO_USUARIOS');
  await shot(admin, 'service');
});

test('an unknown page answers 404 and shows the not-found page', async () => {
  const res = await admin.goto('/no/such/page');
  assert.equal(res.status(), 404);
  await waitFor('the not-found page', async () => (await admin.locator('h1').textContent()) === 'Page not found');
  await shot(admin, 'not-found');
  await admin.goto(`/dags/${DAG}/runs/no_such_run`);
  await waitFor('the not-found page for an unknown run', async () => (await admin.locator('h1').textContent()) === 'Page not found');
});

test('a forged session cookie gets the login page', async () => {
  const page = await newPage();
  const { hostname } = new URL(base);
  await page.context().addCookies([{ name: 'orquestra_session', value: 'forged-' + 'a'.repeat(40), domain: hostname, path: '/' }]);
  await page.goto('/dags');
  await waitFor('the login page', () => new URL(page.url()).pathname === '/login');
  assert.equal(new URL(page.url()).searchParams.get('next'), '/dags');
  await waitFor('the login form', () => page.locator('#login-username').isVisible());
  assert.equal(await page.locator('.topbar').count(), 0);
  await shot(page, 'login');
  await page.context().close();
});

test('markup from the API (DAG description, log line, instance metadata) is shown as text', async () => {
  const reg = await fetch(`${registry}/eureka/apps/XSS_PROBE`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      instance: {
        instanceId: 'xss-probe-1', hostName: '127.0.0.1', app: 'XSS_PROBE', ipAddr: '127.0.0.1', status: 'UP',
        port: { $: 9, '@enabled': 'true' }, vipAddress: 'xss_probe',
        dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
        leaseInfo: { renewalIntervalInSecs: 30, durationInSecs: 300 },
        metadata: { note: PAYLOAD(3) },
      },
    }),
  });
  assert.ok(reg.status === 204 || reg.status === 200, `registering the probe instance: ${reg.status}`);
  const run = await api('POST', `/dags/${PROBE_DAG}/dagRuns`, { dag_run_id: 'probe_1' });
  assert.equal(run.status, 200, run.text);
  await waitFor('the probe run to finish', async () => ['success', 'failed'].includes((await api('GET', `/dags/${PROBE_DAG}/dagRuns/probe_1`)).json?.state));

  const noImages = () => admin.evaluate(() => ({ imgs: document.querySelectorAll('img').length, xss: window.__xss ?? null }));

  await admin.goto('/dags');
  await waitFor('the probe DAG description', async () =>
    (await admin.locator('.dag-table').textContent()).includes(`${PAYLOAD(1)} probe`));
  assert.deepEqual(await noImages(), { imgs: 0, xss: null });

  await admin.goto(`/dags/${PROBE_DAG}/runs/probe_1/tasks/echo_payload`);
  await waitFor('the probe log line', async () => (await admin.locator('[role=log]').textContent()).includes(PAYLOAD(2)));
  assert.deepEqual(await noImages(), { imgs: 0, xss: null });

  await admin.goto('/services');
  await waitFor('the probe metadata', async () =>
    (await admin.locator('section[data-app="XSS_PROBE"]').textContent().catch(() => '')).includes(PAYLOAD(3)));
  await admin.fill('#svc-search', 'onerror');
  await waitFor('the metadata search to keep the probe', async () => (await admin.locator('section.app-card').count()) === 1);
  assert.deepEqual(await noImages(), { imgs: 0, xss: null });
  assert.deepEqual(admin.errors, [], 'no script error or CSP violation on the pages');
});

test('the log of a running try is followed live, appended once', async () => {
  const run = await api('POST', `/dags/${FOLLOW_DAG}/dagRuns`, { dag_run_id: 'follow_1' });
  assert.equal(run.status, 200, run.text);
  await admin.goto(`/dags/${FOLLOW_DAG}/runs/follow_1/tasks/slow`);
  const log = admin.locator('[role=log]');
  // The command's first line reaches the page while the command still sleeps: its output is
  // logged as it comes.
  await waitFor('the first line of output', async () => (await log.textContent()).includes('stdout: first line'));
  const early = await log.textContent();
  assert.ok(!early.includes('stdout: second line'), 'the log shows while the task still runs');
  await shot(admin, 'task-running');
  writeFileSync(join(home, 'follow.gate'), 'open');
  await waitFor('the command output, without reloading', async () => (await log.textContent()).includes('second line'), 20000);
  await waitFor('the try to finish', async () =>
    (await api('GET', `/dags/${FOLLOW_DAG}/dagRuns/follow_1/taskInstances/slow`)).json?.state === 'success');
  const full = await fetch(`${apiBase}/api/v1/dags/${FOLLOW_DAG}/dagRuns/follow_1/taskInstances/slow/logs/1?full_content=true`,
    { headers: { Authorization: basic, Accept: 'text/plain' } }).then((r) => r.text());
  await waitFor('the followed log to equal the whole log (appended once, nothing missing)', async () => (await log.textContent()) === full);
  await waitFor('the try to be shown as success', async () =>
    (await admin.locator('.page-header .state-dot').getAttribute('aria-label')) === 'success');
});
