import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import {
  cli,
  disposeTestServer,
  DIST,
  environment,
  FIXTURE_AGENTS,
  freePort,
  startTestServer,
  waitFor,
  type TestServer,
} from './helpers/test-server.js';




describe('autocode CLI against a running server', () => {
  let server: TestServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer();
    env = environment(server.dataDir, server.database, FIXTURE_AGENTS);
  });
  afterAll(async () => disposeTestServer(server));

  it('creates tokens the server accepts, with the admin role on request', async () => {
    const created = cli(env, 'token', 'create', '--user', 'alice', '--ttl', '1h');
    expect(created.status, created.stderr).toBe(0);
    const token = created.stdout.trim();
    const [, payload] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    expect(claims).toMatchObject({ sub: 'alice' });
    expect(claims.exp - claims.iat).toBe(3600);
    expect(claims.role).toBeUndefined();
    expect((await server.request('GET', '/api/v1/runs', { token })).status).toBe(200);
    const admin = cli(env, 'token', 'create', '--user', 'root', '--admin');
    const adminClaims = JSON.parse(Buffer.from(admin.stdout.trim().split('.')[1]!, 'base64url').toString());
    expect(adminClaims.role).toBe('admin');
    expect(adminClaims.exp - adminClaims.iat).toBe(30 * 86400);
  });

  it('exits 2 on bad usage and names the problem', () => {
    expect(cli(env, 'token', 'create').status).toBe(2);
    const ttl = cli(env, 'token', 'create', '--user', 'a', '--ttl', 'forever');
    expect(ttl.status).toBe(2);
    expect(ttl.stderr).toContain('--ttl');
    expect(cli(env, 'no-such-command').status).toBe(2);
    expect(cli(env, '--help').status).toBe(0);
  });

  it('lists agent profiles', () => {
    const agents = cli(env, 'agents', 'list', '--json');
    expect(agents.status).toBe(0);
    const names = JSON.parse(agents.stdout).items.map((item: { name: string }) => item.name);
    expect(names).toEqual(expect.arrayContaining(['lines', 'sleeper', 'claude-code', 'codex']));
  });
});

describe('autocode db migrate and serve', () => {
  let dataDir: string;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'autocode-cli-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('applies migrations once', () => {
    const env = { PATH: process.env.PATH!, DATA_DIR: dataDir };
    const first = cli(env, 'db', 'migrate');
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^applied InitialSchema/);
    expect(cli(env, 'db', 'migrate').stdout).toBe('database is up to date\n');
  });

  it('serves in the foreground, logging at info without LOG_LEVEL, and stops on SIGTERM', async () => {
    const port = await freePort();
    const env = { PATH: process.env.PATH!, DATA_DIR: dataDir, LOG_FORMAT: 'json' };
    const child = spawn(process.execPath, [join(DIST, 'cli.js'), 'serve', '--port', String(port)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    try {
      const live = await waitFor(async () => {
        try {
          return (await fetch(`http://127.0.0.1:${port}/health/live`)).status === 200;
        } catch {
          return false;
        }
      }, 20_000, 'the server to answer');
      expect(live).toBe(true);
      const token = cli(env, 'token', 'create', '--user', 'serve-user').stdout.trim();
      expect((await fetch(`http://127.0.0.1:${port}/api/v1/runs`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/api/v1/runs`)).status).toBe(401);
      await waitFor(() => output.includes('"statusCode":401'), 5_000, 'the request lines');
      child.kill('SIGTERM');
      const [code, signal] = await once(child, 'exit');
      expect(code === 0 || signal === 'SIGTERM').toBe(true);
      const entries = output.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
      expect(entries.find((entry) => /^listening on http:\/\/127\.0\.0\.1:\d+/.test(entry.msg)), output).toMatchObject({ level: 'info' });
      const requests = entries.filter((entry) => entry.msg === 'request completed');
      expect(requests.map((entry) => [entry.level, entry.res.statusCode]), output).toEqual([
        ['info', 200],
        ['info', 401],
      ]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});

describe('SIGHUP', () => {
  it('reloads the agent profiles without stopping, and keeps them when the new file is invalid', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'autocode-hup-'));
    const agentsFile = join(dataDir, 'agents.yaml');
    writeFileSync(agentsFile, 'agents:\n  first:\n    command: [echo, one]\n');
    const port = await freePort();
    const env = { PATH: process.env.PATH!, DATA_DIR: dataDir, AGENTS_FILE: agentsFile, PORT: String(port), LOG_FORMAT: 'json' };
    const child = spawn(process.execPath, [join(DIST, 'main.js')], { env, stdio: 'ignore' });
    try {
      // The server makes DATA_DIR's secret and database as it starts; `token create` needs them.
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => null))?.ok, 20_000, 'the server');
      const token = cli(env, 'token', 'create', '--user', 'ops').stdout.trim();
      const names = async (): Promise<string[]> => {
        const response = await fetch(`http://127.0.0.1:${port}/api/v1/agents`, { headers: { authorization: `Bearer ${token}` } });
        return ((await response.json()) as { items: { name: string }[] }).items.map((item) => item.name);
      };
      await waitFor(async () => (await names().catch((): string[] => [])).includes('first'), 20_000, 'the server');
      writeFileSync(agentsFile, 'agents:\n  first:\n    command: [echo, one]\n  second:\n    command: [echo, two]\n');
      child.kill('SIGHUP');
      await waitFor(async () => (await names()).includes('second'), 10_000, 'the reload');
      writeFileSync(agentsFile, 'agents:\n  broken:\n    command: 42\n');
      child.kill('SIGHUP');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await names()).toEqual(expect.arrayContaining(['first', 'second']));
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('startup refusals', () => {
  let dataDir: string;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'autocode-bad-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  function start(extra: Record<string, string>): { status: number | null; stderr: string } {
    const result = spawnSync(process.execPath, [join(DIST, 'main.js')], {
      env: { PATH: process.env.PATH!, DATA_DIR: dataDir, PORT: '0', ...extra },
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { status: result.status, stderr: result.stderr };
  }

  it.each([
    [{ PORT: 'abc' }, /^autocode: Invalid configuration: PORT /],
    [{ JWT_SECRET: 'too-short' }, /^autocode: Invalid configuration: JWT_SECRET must be at least 32 bytes/],
    [{ MAX_CONCURRENT_AGENTS: '-1' }, /^autocode: Invalid configuration: MAX_CONCURRENT_AGENTS /],
  ])('refuses %o with exit 1 and one line', (env, message) => {
    const result = start(env);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('refuses an invalid agent profiles file, naming the field', () => {
    const file = join(dataDir, 'agents.yaml');
    writeFileSync(file, 'agents:\n  broken:\n    command: "not a list"\n');
    const result = start({ AGENTS_FILE: file });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/agents\.broken\.command must be a non-empty list/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('start-up failures of the server process', () => {
  const ENTRIES: [string, string[]][] = [
    ['dist/main.js', [join(DIST, 'main.js')]],
    ['dist/cli.js serve', [join(DIST, 'cli.js'), 'serve']],
  ];

  function start(args: string[], env: Record<string, string>, timeoutMs: number): { status: number | null; stdout: string; stderr: string; seconds: number } {
    const startedAt = Date.now();
    // SIGKILL at the timeout: a process that hangs or, wrongly, starts serving must not outlive the test.
    const result = spawnSync(process.execPath, args, { env: { PATH: process.env.PATH!, PORT: '0', ...env }, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, seconds: (Date.now() - startedAt) / 1000 };
  }

  describe.each(ENTRIES)('%s', (_name, args) => {
    it.each(['/proc/autocode-test', '/sys/autocode-test', `/dev/autocode-test-${process.pid}`])('refuses DATA_DIR=%s at once, with one line', (dataDir) => {
      try {
        // Node's recursive mkdir spins for ever inside /proc: the timeout is what a hang runs into.
        const result = start(args, { DATA_DIR: dataDir }, 20_000);
        expect(result.status, `${result.stdout}${result.stderr}`).toBe(1);
        expect(result.stderr).toMatch(/^autocode: Invalid configuration: DATA_DIR \S+ is inside \/(proc|sys|dev), a kernel file system\n$/);
        expect(result.stdout).toBe('');
        expect(existsSync(dataDir)).toBe(false);
      } finally {
        if (dataDir.startsWith('/dev/')) rmSync(dataDir, { recursive: true, force: true });
      }
    });

    it('gives up on an unreachable DATABASE_URL within seconds, logging JSON lines, then one line', () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'autocode-nodb-'));
      try {
        const result = start(args, { DATA_DIR: dataDir, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x', LOG_FORMAT: 'json' }, 60_000);
        const all = `${result.stdout}${result.stderr}`;
        expect(result.status, all).toBe(1);
        expect(result.seconds, all).toBeLessThan(30);
        expect(all).not.toContain('\u001b');
        const lines = all.split('\n').filter((line) => line.length > 0);
        expect(lines.length, all).toBeLessThanOrEqual(12);
        const plain = lines.filter((line) => !line.startsWith('{'));
        expect(plain).toEqual(['autocode: connect ECONNREFUSED 127.0.0.1:1']);
        expect(result.stderr.trimEnd().split('\n').at(-1)).toBe('autocode: connect ECONNREFUSED 127.0.0.1:1');
        const entries = lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
        expect(entries.filter((entry) => /Unable to connect to the database/.test(entry.err?.message ?? entry.msg)).length, all).toBeGreaterThan(0);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
});
