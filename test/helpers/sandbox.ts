import { chmodSync, copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable } from '../../src/sandbox/bwrap.js';
import { FIXTURES } from './test-server.js';

/**
 * Whether bubblewrap is installed, for the suites that run agents in it. CI
 * installs it and sets AUTOCODE_TEST_REQUIRE_SANDBOX=1, so there a missing
 * bubblewrap fails the run instead of skipping the sandbox tests.
 */
export function sandboxAvailable(): boolean {
  const found = findExecutable('bwrap') !== null;
  if (!found && process.env.AUTOCODE_TEST_REQUIRE_SANDBOX === '1') {
    throw new Error('bubblewrap (bwrap) is not installed, and AUTOCODE_TEST_REQUIRE_SANDBOX=1 requires the sandbox tests to run');
  }
  if (!found) console.warn('bubblewrap (bwrap) is not installed: the sandbox tests are skipped (apt-get install bubblewrap)');
  return found;
}

/**
 * Copies fixture agents to a new world-readable directory: run as root, the
 * server starts sandboxes as an unprivileged uid, which must be able to reach
 * the agent's files wherever this checkout lives.
 */
export function publicFixtures(...scripts: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'autocode-fixtures-'));
  chmodSync(dir, 0o755);
  for (const script of scripts) {
    copyFileSync(join(FIXTURES, script), join(dir, script));
    chmodSync(join(dir, script), 0o644);
  }
  return dir;
}
