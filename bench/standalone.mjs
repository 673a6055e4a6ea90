// What the benchmarks under bench/ share: `orquestra standalone --examples` started in a fresh
// home on free ports, its base URL once it is ready, a REST call as admin, and stopping it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const percentile = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))];

// Resolves once standalone says "Ready."; rejects (after stopping it) when it does not within 10 s.
export async function startStandalone(binary, password) {
  const home = mkdtempSync(join(tmpdir(), 'orquestra-bench-'));
  const child = spawn(binary, ['standalone', '--examples', '--home', home, '--port', '0',
    '--registry-port', '0'], { env: { ...process.env, ORQUESTRA_ADMIN_PASSWORD: password } });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', () => {});
  const stop = async () => {
    child.kill('SIGTERM');
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise((r) => child.on('exit', r));
    }
    rmSync(home, { recursive: true, force: true });
  };
  for (let i = 0; i < 500 && !out.includes('Ready.'); ++i) await sleep(20);
  if (!out.includes('Ready.')) {
    await stop();
    throw new Error('standalone did not start:\n' + out);
  }
  const base = /REST API +(http:\/\/[\d.:]+)\/api\/v1/.exec(out)[1];
  const basic = 'Basic ' + Buffer.from(`admin:${password}`).toString('base64');
  // A REST call as admin (HTTP Basic); the answer's status and JSON body.
  const api = async (method, path, body) => {
    const res = await fetch(`${base}/api/v1${path}`, {
      method, headers: { Authorization: basic, 'Content-Type': 'application/json' },
      body: body && JSON.stringify(body),
    });
    return { status: res.status, json: await res.json() };
  };
  return { base, pid: child.pid, output: () => out, api, stop };
}

// Triggers a run and polls it (no pause) until it ends; the run, and when the trigger answered.
export async function runToEnd(api, dag, runId, conf) {
  const t0 = performance.now();
  const r = await api('POST', `/dags/${dag}/dagRuns`, { dag_run_id: runId, conf });
  const triggered = performance.now() - t0;
  if (r.status !== 200) throw new Error(`trigger ${runId}: ${r.status} ${JSON.stringify(r.json)}`);
  for (;;) {
    const run = (await api('GET', `/dags/${dag}/dagRuns/${runId}`)).json;
    if (run.state === 'success' || run.state === 'failed') return { run, triggered };
  }
}
