// The seed lesson as its users run it: `orquestra standalone --examples` with the example
// services as real processes, the DAG triggered over the REST API. Measures the trigger call,
// trigger-to-finish as a client sees it (waiting on the run), the run's own start-to-end, and
// the memory of every process. Not a test: run by hand.
//
//   node bench/seed_standalone.mjs [runs=200] [binary=build/orquestra]
import { readFileSync } from 'node:fs';
import { percentile, runToEnd, startStandalone } from './standalone.mjs';

const runs = Number(process.argv[2] ?? 200);
const binary = process.argv[3] ?? 'build/orquestra';
const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

const standalone = await startStandalone(binary, 'bench');
try {
  const dag = 'servico_usuarios_mensagens';
  const trigger = [], total = [], server = [];
  for (let i = 0; i < runs; ++i) {
    const id = `bench_${i}`;
    const t0 = performance.now();
    const { run, triggered } = await runToEnd(standalone.api, dag, id, { usuario_id: 1 + (i % 3) });
    const t2 = performance.now();
    if (run.state !== 'success') throw new Error(`run ${id} ${run.state}`);
    trigger.push(triggered);
    total.push(t2 - t0);
    server.push(Date.parse(run.end_date) - Date.parse(run.start_date));
  }
  for (const xs of [trigger, total, server]) xs.sort((a, b) => a - b);
  const f = (xs) => `p50 ${percentile(xs, 0.5).toFixed(2)} ms, p99 ${percentile(xs, 0.99).toFixed(2)} ms`;
  console.log(`${runs} runs of ${dag} (usuario_id 1, 2, 3 in turn), one at a time:`);
  console.log(`  trigger request             ${f(trigger)}`);
  console.log(`  trigger to finish (client)  ${f(total)}  (polling the run)`);
  console.log(`  run start to end (server)   ${f(server)}  (ms resolution)`);
  const pids = [...standalone.output().matchAll(/started \S+ #\d \(pid (\d+)\)/g)].map((m) => Number(m[1]));
  console.log(`  RSS: standalone ${(rssKb(standalone.pid) / 1024).toFixed(1)} MB; services ` +
    pids.map((p) => `${(rssKb(p) / 1024).toFixed(1)}`).join(', ') + ' MB');
} finally {
  await standalone.stop();
}
