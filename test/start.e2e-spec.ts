import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { createTestDatabase, DIST, environment, FIXTURE_AGENTS, startBuiltServer, type TestDatabase } from './helpers/test-server.js';

// `npm start`: a build only when dist/ is stale, and a start that says in one line where things are.

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** `node scripts/build-if-stale.mjs`, what `npm start` runs before the server. */
function buildIfStale(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-if-stale.mjs'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('npm start builds only a stale dist/', () => {
  it('does not build again right after a build (the test setup built dist/)', () => {
    const before = statSync(join(DIST, 'main.js')).mtimeMs;
    const result = buildIfStale();
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    expect(statSync(join(DIST, 'main.js')).mtimeMs).toBe(before);
  });

  it.each(['src/main.ts', 'src/runs/runs.service.ts', 'package.json', 'package-lock.json', 'scripts/build.mjs', 'scripts/build-web.mjs', 'web/src/app.tsx', 'web/index.html', 'clients/typescript/src/client.ts'])('finds dist/ stale once %s changes', (input) => {
    const file = join(ROOT, input);
    const { atime, mtime } = statSync(file);
    try {
      expect(buildIfStale('--dry-run').stdout).toBe('up to date\n');
      const now = new Date();
      utimesSync(file, now, now);
      expect(buildIfStale('--dry-run').stdout).toBe(`stale: ${input} changed since the last build\n`);
    } finally {
      utimesSync(file, atime, mtime);
    }
    expect(buildIfStale('--dry-run').stdout).toBe('up to date\n');
  });
});

describe('the start of the server at LOG_LEVEL=info', () => {
  let dataDir: string;
  let database: TestDatabase;
  let entries: { level: string; context?: string; msg: string }[];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'autocode-start-'));
    database = await createTestDatabase();
    const server = await startBuiltServer(environment(dataDir, database, FIXTURE_AGENTS, { LOG_LEVEL: 'info' }));
    await server.stop();
    entries = server.output().split('\n').filter((line) => line.length > 0).map((line) => JSON.parse(line));
  });

  afterAll(async () => {
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('says where it listens, where its data is, where the dashboard and the docs are and how to sign in, in one line', () => {
    const summary = entries.find((entry) => entry.msg.startsWith('listening on'));
    expect(summary?.level).toBe('info');
    expect(summary?.msg).toMatch(
      new RegExp(
        `^listening on (http://127\\.0\\.0\\.1:\\d+) \\(role all\\), data in ${dataDir}, dashboard at \\1/, docs at \\1/api/docs; next: sign in with the link \`npx autocode token create --user <name> --login-url\` prints$`,
      ),
    );
  });

  it("leaves Nest's module and route lines out", () => {
    const all = entries.map((entry) => `${entry.context}: ${entry.msg}`).join('\n');
    expect(entries.filter((entry) => ['InstanceLoader', 'RoutesResolver', 'RouterExplorer'].includes(entry.context ?? '')), all).toEqual([]);
    expect(entries.length, all).toBeLessThanOrEqual(6);
  });
});

describe('the start of the server at LOG_LEVEL=debug', () => {
  it("logs Nest's module and route lines at debug", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'autocode-start-'));
    const database = await createTestDatabase();
    try {
      const server = await startBuiltServer(environment(dataDir, database, FIXTURE_AGENTS, { LOG_LEVEL: 'debug' }));
      await server.stop();
      const entries = server.output().split('\n').filter((line) => line.length > 0).map((line) => JSON.parse(line));
      const routes = entries.filter((entry) => entry.context === 'RouterExplorer');
      expect(routes.length).toBeGreaterThan(10);
      expect(new Set(routes.map((entry) => entry.level))).toEqual(new Set(['debug']));
      expect(entries.find((entry) => entry.context === 'InstanceLoader')?.level).toBe('debug');
    } finally {
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
