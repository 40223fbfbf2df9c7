// Whether dist/ is older than what it is built from, so that `npm start` builds only when it is.
// The build leaves a stamp in dist/ dated when it started: a file changed during the build still
// counts as newer.
import { readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the build reads besides node_modules (package-lock.json stands for that): the server, the dashboard and the client it bundles. */
const INPUTS = ['src', 'web', 'clients/typescript/src', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs', 'scripts/build-web.mjs'];
const STAMP = join('dist', '.build-stamp');
const OUTPUTS = [join('dist', 'main.js'), join('dist', 'cli.js')];

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}

/** The most recently changed file under `path`, relative to `root`. */
function newest(root, path) {
  const stats = statSync(join(root, path), { throwIfNoEntry: false });
  if (!stats) return null;
  if (!stats.isDirectory()) return { path, mtimeMs: stats.mtimeMs };
  let found = null;
  for (const entry of readdirSync(join(root, path))) {
    const candidate = newest(root, join(path, entry));
    if (candidate && (!found || candidate.mtimeMs > found.mtimeMs)) found = candidate;
  }
  return found;
}

/** Why dist/ under `root` needs building, or null when it is current. */
export function staleReason(root) {
  const built = mtime(join(root, STAMP));
  if (built === null) return 'no build stamp in dist/';
  const missing = OUTPUTS.find((output) => mtime(join(root, output)) === null);
  if (missing) return `${missing} is missing`;
  for (const input of INPUTS) {
    const changed = newest(root, input);
    if (changed && changed.mtimeMs > built) return `${changed.path} changed since the last build`;
  }
  return null;
}

/** Marks dist/ under `root` as built from the inputs as they were at `startedAt` (ms). */
export function writeStamp(root, startedAt) {
  const stamp = join(root, STAMP);
  writeFileSync(stamp, '');
  utimesSync(stamp, startedAt / 1000, startedAt / 1000);
}
