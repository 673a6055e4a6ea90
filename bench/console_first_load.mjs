// The console's first load on loopback, in headless Chromium (Debian's, driven by playwright-core
// from src/web/ui/node_modules): `orquestra standalone --examples` started, logged in once, then
// each round opens a fresh browser context (empty cache) on /dags and times until the seed
// DAG's row is on screen; also what the page transferred. Not a test: run by hand.
//
//   node bench/console_first_load.mjs [rounds=20] [binary=build/orquestra]   (from the repository's root)
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { percentile, startStandalone } from './standalone.mjs';

const require = createRequire(join(process.cwd(), 'src/web/ui/package.json'));
const { chromium } = require('playwright-core');

const rounds = Number(process.argv[2] ?? 20);
const binary = process.argv[3] ?? 'build/orquestra';
const password = 'bench';
const standalone = await startStandalone(binary, password);

let browser;
try {
  const { base } = standalone;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // One login for the cookie every round reuses (a login's argon2id check is not page load).
  const login = await fetch(`${base}/api/v1/ui/session`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'bench' },
    body: JSON.stringify({ username: 'admin', password }),
  });
  const token = login.headers.get('set-cookie').split(';')[0].split('=')[1];
  const times = [];
  let bytes = 0;
  for (let i = 0; i < rounds; ++i) {
    const context = await browser.newContext({ baseURL: base });
    await context.addCookies([{ name: 'orquestra_session', value: token, url: base }]);
    const page = await context.newPage();
    let transferred = 0;
    page.on('response', async (r) => {
      const length = Number((await r.allHeaders())['content-length'] ?? 0);
      transferred += length;
    });
    const t0 = performance.now();
    await page.goto('/dags');
    await page.getByRole('link', { name: 'servico_usuarios_mensagens' }).first().waitFor();
    times.push(performance.now() - t0);
    bytes = transferred;
    await context.close();
  }
  times.sort((a, b) => a - b);
  console.log(`first load of /dags until the seed DAG is listed, empty cache, ${rounds} rounds:`);
  console.log(`  p50 ${percentile(times, 0.5).toFixed(0)} ms, p90 ${percentile(times, 0.9).toFixed(0)} ms, ` +
    `min ${times[0].toFixed(0)} ms; ${(bytes / 1024).toFixed(1)} KiB transferred`);
} finally {
  await browser?.close();
  await standalone.stop();
}
