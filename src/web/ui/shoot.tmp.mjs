import { chromium } from 'playwright-core';
const base = process.env.BASE ?? 'http://127.0.0.1:5173';
const pages = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
const width = Number(process.env.W ?? 1280);
const ctx = await browser.newContext({ viewport: { width, height: 900 }, colorScheme: process.env.DARK ? 'dark' : 'light' });
const page = await ctx.newPage();
const errors = [];
page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
page.on('pageerror', (e) => errors.push('PAGEERROR ' + e.message));
await page.goto(base + '/login');
await page.fill('#login-username', 'admin');
await page.fill('#login-password', 'admin');
await page.click('button[type=submit]');
await page.waitForSelector('.topbar');
for (const p of pages) {
  const [path, name] = p.split('|');
  await page.goto(base + path);
  await page.waitForTimeout(Number(process.env.WAIT ?? 1500));
  await page.screenshot({ path: `/tmp/shots/${name}.png`, fullPage: true });
}
console.log(errors.join('\n'));
await browser.close();
