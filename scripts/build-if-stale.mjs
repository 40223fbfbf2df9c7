// `npm start`: builds dist/ only when src/ or the build's other inputs changed since the last
// build (see build-stamp.mjs); `--dry-run` only says whether it would.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { staleReason } from './build-stamp.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const reason = staleReason(root);
if (process.argv.includes('--dry-run')) {
  process.stdout.write(reason ? `stale: ${reason}\n` : 'up to date\n');
} else if (reason) {
  process.stderr.write(`building dist/: ${reason}\n`);
  const build = spawnSync(process.execPath, [fileURLToPath(new URL('build.mjs', import.meta.url))], { cwd: root, stdio: 'inherit' });
  process.exitCode = build.status ?? 1;
}
