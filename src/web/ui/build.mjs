// Builds the console: `node src/web/ui/build.mjs --out DIR` writes DIR/index.html and
// DIR/assets/<name>.<hash>.(js|css|svg). index.html has no inline script or style (the server's
// Content-Security-Policy forbids them) and refers to the assets by absolute /assets/ paths, so
// the server can cache them forever and answer every page route with the same index.html.
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
if (outIndex < 0 || !args[outIndex + 1]) {
  console.error('usage: node build.mjs --out DIR');
  process.exit(2);
}
const out = resolve(args[outIndex + 1]);
const assets = join(out, 'assets');

const hashOf = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 12);
const written = [];
function emit(name, ext, bytes) {
  const file = `${name}.${hashOf(bytes)}.${ext}`;
  writeFileSync(join(assets, file), bytes);
  written.push([file, bytes.length]);
  return `/assets/${file}`;
}

const common = {
  bundle: true,
  minify: true,
  write: false,
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  legalComments: 'none',
  logLevel: 'warning',
  absWorkingDir: here,
};

rmSync(assets, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

// The graph layout runs in a worker: built first, so the main bundle can name its hashed file.
const worker = await esbuild.build({
  ...common,
  entryPoints: ['src/layout.worker.ts'],
  format: 'iife',
  outfile: 'worker.js',
});
const workerUrl = emit('layout', 'js', worker.outputFiles[0].contents);

const main = await esbuild.build({
  ...common,
  entryPoints: ['src/main.tsx'],
  format: 'iife',
  outfile: 'main.js',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  define: { LAYOUT_WORKER_URL: JSON.stringify(workerUrl) },
});
let jsUrl = '';
let cssUrl = '';
for (const f of main.outputFiles) {
  if (f.path.endsWith('.js')) jsUrl = emit('main', 'js', f.contents);
  else if (f.path.endsWith('.css')) cssUrl = emit('main', 'css', f.contents);
}
const iconUrl = emit('icon', 'svg', readFileSync(join(here, 'src/icon.svg')));

const html =
  '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
  '<meta name="viewport" content="width=device-width,initial-scale=1">' +
  '<meta name="color-scheme" content="light dark"><title>Orquestra</title>' +
  `<link rel="icon" href="${iconUrl}" type="image/svg+xml">` +
  `<link rel="stylesheet" href="${cssUrl}"><script defer src="${jsUrl}"></script></head>` +
  '<body><noscript>The Orquestra console needs JavaScript.</noscript><div id="app"></div></body></html>\n';
writeFileSync(join(out, 'index.html'), html);
written.push(['index.html', html.length]);

if (!args.includes('--quiet')) {
  for (const [file, size] of written) console.log(`  ${file.padEnd(34)} ${(size / 1024).toFixed(1)} KiB`);
}
