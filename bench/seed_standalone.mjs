// The seed lesson as its users run it: `orquestra standalone --examples` with the example
// services as real processes, the DAG triggered over the REST API. Measures the trigger call,
// trigger-to-finish as a client sees it (waiting on the run), the run's own start-to-end, and
// the memory of every process. Not a test: run by hand.
//
//   node bench/seed_standalone.mjs [runs=200] [binary=build/orquestra]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const runs = Number(process.argv[2] ?? 200);
const binary = process.argv[3] ?? 'build/orquestra';
const password = 'bench';
const home = mkdtempSync(join(tmpdir(), 'orquestra-bench-'));
const auth = 'Basic ' + Buffer.from(`admin:${password}`).toString('base64');

const child = spawn(binary, ['standalone', '--examples', '--home', home, '--port', '0',
  '--registry-port', '0'], { env: { ...process.env, ORQUESTRA_ADMIN_PASSWORD: password } });
let out = '';
child.stdout.on('data', (d) => { out += d; });
child.stderr.on('data', () => {});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const percentile = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

async function api(method, path, body) {
  const res = await fetch(`${base}/api/v1${path}`, {
    method, headers: { Authorization: auth, 'Content-Type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

let base;
try {
  for (let i = 0; i < 500 && !out.includes('Ready.'); ++i) await sleep(20);
  if (!out.includes('Ready.')) throw new Error('standalone did not start:\n' + out);
  base = /REST API +(http:\/\/[\d.:]+)\/api\/v1/.exec(out)[1];
  const dag = 'servico_usuarios_mensagens';
  const trigger = [], total = [], server = [];
  for (let i = 0; i < runs; ++i) {
    const id = `bench_${i}`;
    const t0 = performance.now();
    const r = await api('POST', `/dags/${dag}/dagRuns`, { dag_run_id: id, conf: { usuario_id: 1 + (i % 3) } });
    const t1 = performance.now();
    if (r.status !== 200) throw new Error(`trigger ${id}: ${r.status} ${JSON.stringify(r.json)}`);
    let run;
    for (;;) {
      run = (await api('GET', `/dags/${dag}/dagRuns/${id}`)).json;
      if (run.state === 'success' || run.state === 'failed') break;
    }
    const t2 = performance.now();
    if (run.state !== 'success') throw new Error(`run ${id} ${run.state}`);
    trigger.push(t1 - t0);
    total.push(t2 - t0);
    server.push(Date.parse(run.end_date) - Date.parse(run.start_date));
  }
  for (const xs of [trigger, total, server]) xs.sort((a, b) => a - b);
  const f = (xs) => `p50 ${percentile(xs, 0.5).toFixed(2)} ms, p99 ${percentile(xs, 0.99).toFixed(2)} ms`;
  console.log(`${runs} runs of ${dag} (usuario_id 1, 2, 3 in turn), one at a time:`);
  console.log(`  trigger request             ${f(trigger)}`);
  console.log(`  trigger to finish (client)  ${f(total)}  (polling the run)`);
  console.log(`  run start to end (server)   ${f(server)}  (ms resolution)`);
  const pids = [...out.matchAll(/started \S+ #\d \(pid (\d+)\)/g)].map((m) => Number(m[1]));
  console.log(`  RSS: standalone ${(rssKb(child.pid) / 1024).toFixed(1)} MB; services ` +
    pids.map((p) => `${(rssKb(p) / 1024).toFixed(1)}`).join(', ') + ' MB');
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  rmSync(home, { recursive: true, force: true });
}
