// Several processes on one database, as they scale out: a registry, the two example services, a
// webserver and N `orquestra scheduler` processes. For each configuration:
//  - drain: RUNS seed-workflow runs are created through the webserver's REST API while no
//    scheduler runs; then the schedulers start. Runs/s from the first run's start to the last
//    run's end, and how the runs were shared among the schedulers;
//  - latency: 200 runs triggered one at a time through the webserver while the schedulers run:
//    the run's logical date (its trigger time) to its end_date (server clock, ms), p50/p99. On
//    PostgreSQL a scheduler is woken by LISTEN/NOTIFY; on SQLite it finds the run at its next
//    look (every second).
// A PostgreSQL server (fsync off, loopback) is started for it with
// tests/support/postgres_server.sh in a temporary folder, and each configuration gets a fresh
// schema. Not a test: run by hand, after a build.
//
//   node bench/scale_out.mjs [runs=3000] [configs=sqlite:1,pg:1,pg:2] [build=build]
//                            [max_active_runs=128]
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentile, sleep } from './standalone.mjs';

const runs = Number(process.argv[2] ?? 3000);
const configs = (process.argv[3] ?? 'sqlite:1,pg:1,pg:2').split(',').map((c) => {
  const [db, n] = c.split(':');
  return { db, schedulers: Number(n ?? 1) };
});
const build = process.argv[4] ?? 'build';
const activeRuns = Number(process.argv[5] ?? 128);
const orquestra = `${build}/orquestra`;
const dag = 'servico_usuarios_mensagens';
const work = mkdtempSync(join(tmpdir(), 'orquestra-scale-'));
chmodSync(work, 0o755);  // the PostgreSQL server runs as another user
const children = [];

// Starts a program; resolves with it once its output matches `ready` (the match kept).
async function start(args, ready, env = {}) {
  const child = spawn(args[0], args.slice(1), { env: { ...process.env, ...env } });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  for (let i = 0; i < 1000 && !(ready && ready.test(out)); ++i) {
    if (!ready) break;
    if (child.exitCode !== null) break;
    await sleep(10);
  }
  if (ready && !ready.test(out)) throw new Error(`${args.join(' ')} did not start:\n${out}`);
  child.match = ready ? ready.exec(out) : null;
  child.output = () => out;
  return child;
}
const stop = async (child) => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const ended = new Promise((r) => child.on('exit', r));
  child.kill('SIGTERM');
  await ended;
};

const pgDir = join(work, 'pg');
execFileSync('tests/support/postgres_server.sh', ['start', pgDir], { stdio: 'ignore' });
const pgUrl = readFileSync(join(pgDir, 'url'), 'utf8').trim();
try {
  const registry = await start([orquestra, 'registry', '--port', '0', '--threads', '1'],
    /registry listening on (http:\/\/[\d.:]+)\//);
  const registryUrl = `${registry.match[1]}/eureka`;
  for (const name of ['servico_usuarios', 'servico_mensagens']) {
    await start([`${build}/examples/${name}`, '--port', '0', '--registry', registryUrl],
      /listening on http/);
  }
  for (const [index, config] of configs.entries()) {
    const home = join(work, `home${index}`);
    mkdirSync(join(home, 'dags'), { recursive: true });
    // The seed DAG with room for many runs at once: max_active_runs (16 by default, across
    // every scheduler) would otherwise be what is measured.
    writeFileSync(join(home, 'dags', `${dag}.yaml`),
      readFileSync(`examples/dags/${dag}.yaml`, 'utf8').replace(/^dag_id: .*$/m,
        (line) => `${line}\nmax_active_runs: ${activeRuns}\nmax_active_tasks: ${2 * activeRuns}`));
    let db = join(home, 'orquestra.db');
    if (config.db === 'pg') {
      const schema = `bench${index}`;
      execFileSync('psql', [pgUrl, '-qc', `CREATE SCHEMA ${schema}`]);
      db = `${pgUrl}${pgUrl.includes('?') ? '&' : '?'}options=-csearch_path%3D${schema}`;
    }
    const common = ['--home', home, '--db', db];
    execFileSync(orquestra, ['users', 'create', ...common, '-u', 'bench', '-p', 'bench-secret-1',
      '-r', 'Admin', '-e', 'bench@example.com', '-f', 'B', '-l', 'B'], { stdio: 'ignore' });
    const web = await start([orquestra, 'webserver', ...common, '--port', '0'],
      /console on (http:\/\/[\d.:]+)\//);
    const basic = 'Basic ' + Buffer.from('bench:bench-secret-1').toString('base64');
    const api = async (method, path, body) => {
      const res = await fetch(`${web.match[1]}/api/v1${path}`, {
        method, headers: { Authorization: basic, 'Content-Type': 'application/json' },
        body: body && JSON.stringify(body),
      });
      return { status: res.status, json: await res.json() };
    };
    // Drain: every run queued first, 8 triggers in flight.
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < runs) {
        const i = next++;
        const r = await api('POST', `/dags/${dag}/dagRuns`,
          { dag_run_id: `drain_${i}`, conf: { usuario_id: 1 + (i % 3) } });
        if (r.status !== 200) throw new Error(`trigger: ${r.status} ${JSON.stringify(r.json)}`);
      }
    }));
    const schedulers = [];
    for (let s = 0; s < config.schedulers; ++s) {
      schedulers.push(await start([orquestra, 'scheduler', ...common, '--registry', registryUrl],
        null));
    }
    const ended = async () => {
      let total = 0;
      for (const state of ['success', 'failed']) {
        total += (await api('GET', `/dags/${dag}/dagRuns?state=${state}&limit=1`)).json.total_entries;
      }
      return total;
    };
    while (await ended() < runs) await sleep(50);
    let first = Infinity, last = 0;
    const owners = new Map();
    for (let offset = 0; offset < runs; offset += 100) {
      const page = (await api('GET', `/dags/${dag}/dagRuns?limit=100&offset=${offset}`)).json;
      for (const run of page.dag_runs) {
        if (!run.dag_run_id.startsWith('drain_')) continue;
        first = Math.min(first, Date.parse(run.start_date));
        last = Math.max(last, Date.parse(run.end_date));
      }
    }
    if (config.db === 'pg') {
      const rows = execFileSync('psql', [db, '-tAc',
        "SELECT count(*) FROM dag_runs WHERE run_id LIKE 'drain%' GROUP BY owner ORDER BY 1 DESC"],
      { encoding: 'utf8' });
      owners.set('shares', rows.trim().split('\n').join(' + '));
    }
    // Latency: one at a time.
    const latency = [];
    for (let i = 0; i < 200; ++i) {
      const id = `one_${i}`;
      const r = await api('POST', `/dags/${dag}/dagRuns`, { dag_run_id: id, conf: { usuario_id: 1 } });
      if (r.status !== 200) throw new Error(`trigger: ${r.status}`);
      for (;;) {
        const run = (await api('GET', `/dags/${dag}/dagRuns/${id}`)).json;
        if (run.state === 'success' || run.state === 'failed') {
          latency.push(Date.parse(run.end_date) - Date.parse(run.logical_date));
          break;
        }
        await sleep(1);
      }
    }
    latency.sort((a, b) => a - b);
    const perSecond = runs / ((last - first) / 1000);
    console.log(`${config.db} with ${config.schedulers} scheduler(s): ${runs} runs drained at ` +
      `${perSecond.toFixed(0)} runs/s (first start to last end ${(last - first)} ms)` +
      (owners.has('shares') ? `, shared ${owners.get('shares')}` : '') +
      `; one at a time, trigger to end p50 ${percentile(latency, 0.5)} ms, ` +
      `p99 ${percentile(latency, 0.99)} ms`);
    for (const s of schedulers) await stop(s);
    await stop(web);
  }
} finally {
  for (const child of children) await stop(child);
  execFileSync('tests/support/postgres_server.sh', ['stop', pgDir], { stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
}
