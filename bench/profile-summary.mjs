// Summarizes a V8 .cpuprofile (from `npm run bench -- SCENARIO --profile`): self time by function and by
// package/file, and inclusive time of the functions of this project (dist/ → src/ via the source maps' naming).
// Usage: node bench/profile-summary.mjs FILE.cpuprofile [--top 25] [--filter substring] [--from S] [--to S]
// --from/--to keep only the samples taken that many seconds after the profile started (e.g. leave out the boot).
// The build bundles dist/main.js into chunks: a frame in a chunk is mapped back, through the chunk's source map, to
// the module it came from (a package under node_modules, or the project's own file), so the tables name those.
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, filter: { type: 'string' }, from: { type: 'string', default: '0' }, to: { type: 'string', default: 'Infinity' } } });
if (positionals.length === 0) {
  console.error('usage: node bench/profile-summary.mjs FILE.cpuprofile [--top N] [--filter TEXT]');
  process.exit(2);
}
const TOP = Number(values.top);
const sourceMaps = new Map();

for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  for (const node of profile.nodes) node.callFrame = original(node.callFrame);
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  // Sample counts → microseconds, from the time deltas.
  const self = new Map();
  const from = Number(values.from) * 1e6;
  const to = Number(values.to) * 1e6;
  let at = 0;
  const busyPerSecond = [];
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    const name = nodes.get(id).callFrame.functionName;
    const second = Math.floor(at / 1e6);
    if (name !== '(idle)') busyPerSecond[second] = (busyPerSecond[second] ?? 0) + (profile.timeDeltas[i] ?? 0);
    if (at >= from && at <= to) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);

  const where = (cf) => {
    const url = cf.url || '';
    const short = url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, 'nm:').replace(/.*\/(dist|src)\//, '$1/');
    return `${cf.functionName || '(anonymous)'} ${short}${url ? `:${cf.lineNumber + 1}` : ''}`;
  };
  const bucket = (cf) => {
    const url = cf.url || '';
    if (!url) return cf.functionName.startsWith('(') ? cf.functionName : '(native/V8)';
    const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    if (nm) return nm[1];
    if (url.startsWith('node:')) return url;
    if (/\/(dist|src)\//.test(url)) return 'app:' + url.replace(/.*\/(dist|src)\//, '');
    return url;
  };

  const bySelf = new Map();
  const byBucket = new Map();
  for (const [id, us] of self) {
    const cf = nodes.get(id).callFrame;
    bySelf.set(where(cf), (bySelf.get(where(cf)) ?? 0) + us);
    byBucket.set(bucket(cf), (byBucket.get(bucket(cf)) ?? 0) + us);
  }
  // Inclusive time per function (counted once per sample even under recursion).
  const inclusive = new Map();
  for (const [id, us] of self) {
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const key = where(nodes.get(at).callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
  const show = (title, map, filter = () => true) => {
    console.log(`\n${title}`);
    for (const [key, us] of [...map].filter(([key]) => filter(key)).sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`);
  };
  console.log(`\n=== ${file}: ${(total / 1e6).toFixed(2)} s sampled (window ${values.from}–${values.to} s)`);
  console.log(`busy % per second since start: ${Array.from(busyPerSecond, (us) => Math.round((us ?? 0) / 1e4)).join(' ')}`);
  show('self time by package / file', byBucket);
  show('self time by function', bySelf, (key) => !values.filter || key.includes(values.filter));
  show('inclusive time, project code (dist/)', inclusive, (key) => key.includes(' dist/') && (!values.filter || key.includes(values.filter)));
  show('inclusive time, everything', inclusive, (key) => !values.filter || key.includes(values.filter));
}

/** Source maps of bundled files, by URL (null: the file has none). */
function sourceMapOf(url) {
  if (!sourceMaps.has(url)) {
    let map = null;
    try {
      const path = fileURLToPath(url);
      if (existsSync(`${path}.map`)) map = { map: new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8'))), dir: dirname(path) };
    } catch {}
    sourceMaps.set(url, map);
  }
  return sourceMaps.get(url);
}

/** The call frame as written before bundling, where the bundle's source map knows it. */
function original(callFrame) {
  if (!callFrame.url.startsWith('file:') || !/\/dist\/.*\.js$/.test(callFrame.url)) return callFrame;
  const source = sourceMapOf(callFrame.url);
  const entry = source?.map.findEntry(callFrame.lineNumber, callFrame.columnNumber);
  if (!entry?.originalSource) return callFrame;
  const url = entry.originalSource.startsWith('file:') ? entry.originalSource : pathToFileURL(resolve(source.dir, entry.originalSource)).href;
  return { ...callFrame, url, lineNumber: entry.originalLine, columnNumber: entry.originalColumn };
}
