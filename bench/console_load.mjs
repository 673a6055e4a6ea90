// Does reading the API slow the scheduler? The seed lesson's DAG (`orquestra standalone
// --examples`) triggered one run at a time, trigger-to-finish measured by the client, first
// alone, then while 20 console clients (each logged in with a session) poll the DAG's grid and
// its run list every 200 ms, as open console pages do. Not a test: run by hand.
//
//   node bench/console_load.mjs [runs=300] [pollers=20] [binary=build/orquestra]
import { percentile, runToEnd, sleep, startStandalone } from './standalone.mjs';

const runs = Number(process.argv[2] ?? 300);
const pollerCount = Number(process.argv[3] ?? 20);
const binary = process.argv[4] ?? 'build/orquestra';
const password = 'bench';
const dag = 'servico_usuarios_mensagens';

const standalone = await startStandalone(binary, password);
const { base } = standalone;

async function measure(label, count) {
  const total = [];
  for (let i = 0; i < count; ++i) {
    const id = `${label}_${i}`;
    const t0 = performance.now();
    const { run } = await runToEnd(standalone.api, dag, id, { usuario_id: 1 + (i % 3) });
    if (run.state !== 'success') throw new Error(`run ${id} ${run.state}`);
    total.push(performance.now() - t0);
  }
  total.sort((a, b) => a - b);
  return { p50: percentile(total, 0.5), p99: percentile(total, 0.99) };
}

// One console page: logs in, then polls the grid and the run list every 200 ms.
async function poller(stop, stats) {
  const login = await fetch(`${base}/api/v1/ui/session`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'bench' },
    body: JSON.stringify({ username: 'admin', password }),
  });
  if (login.status !== 200) throw new Error(`login: ${login.status}`);
  const cookie = login.headers.get('set-cookie').split(';')[0];
  const headers = { Cookie: cookie, 'X-Requested-With': 'bench' };
  while (!stop.done) {
    const t0 = performance.now();
    for (const path of [`/ui/dags/${dag}/grid?runs=25`,
      `/dags/${dag}/dagRuns?limit=25&order_by=-execution_date`]) {
      const res = await fetch(`${base}/api/v1${path}`, { headers });
      await res.arrayBuffer();
      if (res.status !== 200) stats.errors++;
      stats.requests++;
    }
    stats.latency.push(performance.now() - t0);
    await sleep(Math.max(0, 200 - (performance.now() - t0)));
  }
}

try {
  await measure('warmup', 30);
  const alone = await measure('alone', runs);
  const stop = { done: false };
  const stats = { requests: 0, errors: 0, latency: [] };
  const pollers = Array.from({ length: pollerCount }, () => poller(stop, stats));
  await sleep(1000);
  // Only what the pollers did while the runs were measured counts.
  Object.assign(stats, { requests: 0, errors: 0, latency: [] });
  const t0 = performance.now();
  const loaded = await measure('polled', runs);
  const seconds = (performance.now() - t0) / 1000;
  const requests = stats.requests;
  stop.done = true;
  await Promise.all(pollers);
  stats.latency.sort((a, b) => a - b);
  const f = (m) => `p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms`;
  console.log(`${runs} runs of ${dag}, one at a time, trigger to finish as the client sees it:`);
  console.log(`  alone                          ${f(alone)}`);
  console.log(`  with ${pollerCount} pollers (grid + run list every 200 ms)  ${f(loaded)}`);
  console.log(`  ratio                          p50 ${(loaded.p50 / alone.p50).toFixed(2)}x, ` +
    `p99 ${(loaded.p99 / alone.p99).toFixed(2)}x`);
  console.log(`  pollers: ${(requests / seconds).toFixed(0)} requests/s, ${stats.errors} errors, ` +
    `one poll (2 requests) p50 ${percentile(stats.latency, 0.5).toFixed(2)} ms, ` +
    `p99 ${percentile(stats.latency, 0.99).toFixed(2)} ms`);
} finally {
  await standalone.stop();
}
