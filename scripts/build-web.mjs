// Builds the dashboard (web/) into dist/web with Vite: hashed files under dist/web/assets/, beside
// them the gzip and brotli copies the server sends to browsers that accept them, and index.html.
// Prints the size of the JavaScript a first page load fetches (its budget is 150 KB gzipped).
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));
export const webRoot = join(root, 'web');
export const outDir = join(root, 'dist', 'web');

/** The Vite configuration of the dashboard. */
export const viteConfig = {
  configFile: false,
  root: webRoot,
  base: '/',
  mode: 'production',
  // React's production build whatever NODE_ENV the build runs under (jest sets `test`).
  define: { 'process.env.NODE_ENV': JSON.stringify('production') },
  logLevel: 'warn',
  resolve: { alias: { '@autocode/client': join(root, 'clients', 'typescript', 'src', 'index.ts') } },
  oxc: { jsx: { runtime: 'automatic', development: false } },
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    // The polyfill would be an inline script, which the Content-Security-Policy forbids; every supported browser has modulepreload.
    modulePreload: { polyfill: false },
    manifest: true,
    sourcemap: false,
    reportCompressedSize: false,
    rolldownOptions: {
      // React Query marks its modules "use client" for server-component bundlers; a browser bundle has nothing to keep.
      onLog(level, log, handler) {
        if (log.code !== 'MODULE_LEVEL_DIRECTIVE') handler(level, log);
      },
    },
  },
};

const COMPRESSIBLE = new Set(['.js', '.css', '.html', '.svg', '.json', '.txt']);

function filesUnder(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** The JavaScript the entry loads before the first page shows: the entry chunk and its static imports. */
function initialScripts(manifest) {
  const entry = Object.values(manifest).find((chunk) => chunk.isEntry);
  const seen = new Set();
  const visit = (key) => {
    const chunk = manifest[key] ?? Object.values(manifest).find((c) => c.file === key);
    if (!chunk || seen.has(chunk.file)) return;
    seen.add(chunk.file);
    for (const imported of chunk.imports ?? []) visit(imported);
  };
  visit(Object.keys(manifest).find((key) => manifest[key] === entry));
  return [...seen];
}

export async function buildWeb() {
  await build(viteConfig);
  const manifestPath = join(outDir, '.vite', 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  rmSync(join(outDir, '.vite'), { recursive: true, force: true });
  let initial = 0;
  const initialFiles = new Set(initialScripts(manifest));
  for (const file of filesUnder(outDir)) {
    if (!COMPRESSIBLE.has(extname(file))) continue;
    const body = readFileSync(file);
    const gzip = gzipSync(body, { level: 9 });
    writeFileSync(file + '.gz', gzip);
    writeFileSync(file + '.br', brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
    if (initialFiles.has(file.slice(outDir.length + 1))) initial += gzip.length;
  }
  return { initialJsGzipBytes: initial, initialFiles: [...initialFiles] };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { initialJsGzipBytes } = await buildWeb();
  process.stdout.write(`dashboard: initial JavaScript ${(initialJsGzipBytes / 1024).toFixed(1)} KB gzipped (budget 150 KB)\n`);
}
