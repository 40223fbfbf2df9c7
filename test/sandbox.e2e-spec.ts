import Database from 'better-sqlite3';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { isAlive, runProcesses } from './helpers/processes.js';
import { publicFixtures, sandboxAvailable } from './helpers/sandbox.js';
import { stringify } from 'yaml';
import {
  cli,
  createTestDatabase,
  DIST,
  disposeTestServer,
  environment,
  FIXTURE_AGENTS,
  freePort,
  request,
  startBuiltServer,
  startTestServer,
  waitFor,
  waitForStatus,
  type BuiltServer,
  type TestDatabase,
  type TestServer,
} from './helpers/test-server.js';

// Agents in bubblewrap, as a hostile agent would try them: a fixture that reports what it could
// read, write and reach, and agents that exhaust their process and file size limits.

const FINAL = ['succeeded', 'failed', 'cancelled', 'timed_out'];

(sandboxAvailable() ? describe : describe.skip)('agent sandbox (bubblewrap)', () => {
  let fixtures: string;
  let server: TestServer;
  let alice: string;
  let bob: string;
  let http: Server;
  let httpUrl: string;

  beforeAll(async () => {
    fixtures = publicFixtures('sandbox-probe.mjs', 'tree.mjs', 'lines.mjs');
    const probe = [process.execPath, join(fixtures, 'sandbox-probe.mjs'), '{prompt}'];
    server = await startTestServer({
      env: { SANDBOX: 'bwrap' },
      agents: {
        probe: { command: probe },
        offline: { command: probe, network: false },
        lines: { command: [process.execPath, join(fixtures, 'lines.mjs'), '5'] },
        tree: { command: [process.execPath, join(fixtures, 'tree.mjs')] },
        bomb: { command: ['bash', '-c', ':(){ :|:& };:; sleep 60'], limits: { processes: 64 } },
        flood: { command: ['/bin/sh', '-c', 'exec dd if=/dev/zero of=flood bs=1M count=10240'], limits: { fileSizeMb: 8 } },
        // ptrace(PTRACE_TRACEME) and keyctl(KEYCTL_GET_KEYRING_ID), made raw; prints "<result> <errno>" for each.
        syscalls: {
          command: ['/usr/bin/python3', '-c', 'import ctypes; c = ctypes.CDLL(None, use_errno=True)\nfor nr in (101, 250):\n    print(c.syscall(nr, 0, 0, 0, 0), ctypes.get_errno())'],
        },
      },
    });
    alice = server.token('alice');
    bob = server.token('bob');
    http = createServer((_request, response) => response.end('reachable'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const address = http.address();
    httpUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
  });

  afterAll(async () => {
    http?.close();
    if (server) await disposeTestServer(server);
    rmSync(fixtures, { recursive: true, force: true });
  });

  async function run(token: string, body: Record<string, unknown>): Promise<{ id: string; run: Record<string, unknown> & { status: string } }> {
    const submitted = await server.request('POST', '/api/v1/runs', { token, body });
    expect(submitted.status, submitted.text).toBe(202);
    const id = submitted.json.id as string;
    return { id, run: await waitForStatus(server, token, id, FINAL, 30_000) };
  }

  async function stdout(token: string, id: string): Promise<string[]> {
    const events = (await server.request('GET', `/api/v1/runs/${id}/events?limit=1000`, { token })).json.items as { type: string; data: { line: string } }[];
    return events.filter((event) => event.type === 'stdout').map((event) => event.data.line);
  }

  async function probe(token: string, agent: string, plan: Record<string, unknown>, extra: Record<string, unknown> = {}) {
    const { id, run: finished } = await run(token, { agent, prompt: JSON.stringify(plan), ...extra });
    expect(finished.status, JSON.stringify(finished.error)).toBe('succeeded');
    const lines = await stdout(token, id);
    return { id, report: JSON.parse(lines.at(-1)!) as { read: Record<string, string>; write: Record<string, string>; fetch?: string; uid: number; processes: string[] } };
  }

  it('reports the sandbox in the agents list and the detailed health report', async () => {
    const agents = await server.request('GET', '/api/v1/agents', { token: alice });
    expect(agents.json.sandbox).toEqual({ requested: 'bwrap', mode: 'bwrap', hostUid: process.getuid?.() === 0 ? 65534 : process.getuid?.(), serverUser: process.getuid?.() !== 0, warning: null });
    expect(agents.json.items.find((item: { name: string }) => item.name === 'offline')).toMatchObject({ sandboxed: true, network: false });
    const health = await server.request('GET', '/health/detailed', { token: server.token('ops', { admin: true }) });
    expect(health.json.sandbox).toMatchObject({ mode: 'bwrap', warning: null });
  });

  it("keeps the server's secrets, database and processes, other users' files and the host's /etc out of reach", async () => {
    // Bob's run leaves a file in his workspace first.
    const bobs = await probe(bob, 'probe', { write: ['bob-private.txt'] });
    const bobFile = join(server.dataDir, 'users', 'bob', 'runs', bobs.id, 'bob-private.txt');
    expect(readFileSync(bobFile, 'utf8')).toBe('written by the agent\n');

    const { dataDir } = server;
    const secrets = [join(dataDir, 'jwt.secret'), join(dataDir, 'autocode.db'), bobFile, `/proc/${process.pid}/environ`, '/etc/shadow'];
    const outside = [join(dataDir, 'planted.txt'), join(dataDir, 'users', 'alice', 'planted.txt'), '/usr/planted.txt', '/etc/planted.txt'];
    const { id, report } = await probe(alice, 'probe', { read: [...secrets, '/etc/hosts'], write: ['inside.txt', ...outside] });

    for (const path of secrets) expect(report.read[path], path).not.toBe('ok');
    expect(report.read['/etc/hosts']).toBe('ok');
    for (const path of outside) expect(existsSync(path), path).toBe(false);
    expect(report.write['/usr/planted.txt']).not.toBe('ok');
    expect(report.uid).not.toBe(0);
    // Its own PID namespace: none of the host's processes, the server's least of all.
    expect(report.processes).not.toContain(String(process.pid));
    expect(report.processes.length).toBeLessThan(10);

    expect(report.write['inside.txt']).toBe('ok');
    expect(readFileSync(join(dataDir, 'users', 'alice', 'runs', id, 'inside.txt'), 'utf8')).toBe('written by the agent\n');
  });

  it("writes a named workspace's worktree, whose change the server commits and diffs after the run", async () => {
    const created = await server.request('POST', '/api/v1/workspaces', { token: alice, body: { name: 'sandboxed' } });
    expect(created.status, created.text).toBe(201);
    const gitConfig = join(server.dataDir, 'users', 'alice', 'workspaces', 'sandboxed', '.git', 'config');
    const { id, report } = await probe(alice, 'probe', { write: ['feature.txt', gitConfig] }, { workspace: 'sandboxed' });
    expect(report.write['feature.txt']).toBe('ok');
    // The repository is visible read-only: its configuration could otherwise make the server's git run a program.
    expect(report.write[gitConfig]).not.toBe('ok');
    expect(readFileSync(gitConfig, 'utf8')).not.toContain('written by the agent');
    const diff = await server.request('GET', `/api/v1/runs/${id}/diff`, { token: alice });
    expect(diff.status).toBe(200);
    expect(diff.text).toContain('+written by the agent');
    expect(diff.text).toContain('feature.txt');
  });

  it('shares the network by default, and gives a `network: false` profile none', async () => {
    expect((await probe(alice, 'probe', { fetch: httpUrl })).report.fetch).toBe('ok');
    expect((await probe(alice, 'offline', { fetch: httpUrl })).report.fetch).not.toBe('ok');
  });

  it('ends a fork bomb at its process limit while the server and other runs carry on', async () => {
    const bomb = await server.request('POST', '/api/v1/runs', { token: alice, body: { agent: 'bomb', prompt: 'x' } });
    expect(bomb.status).toBe(202);
    await waitFor(async () => (await server.request('GET', `/api/v1/runs/${bomb.json.id}`, { token: alice })).json.status === 'running', 10_000, 'the bomb');
    const other = await run(bob, { agent: 'lines', prompt: 'meanwhile' });
    expect(other.run.status).toBe('succeeded');
    expect((await server.request('GET', '/health/ready')).status).toBe(200);

    const ended = await waitForStatus(server, alice, bomb.json.id, FINAL, 30_000);
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'resource_limit' } });
    expect(ended.durationMs).toBeLessThan(20_000);
    await waitFor(() => runProcesses(bomb.json.id).length === 0, 10_000, 'the bomb to be gone');
    expect((await server.request('GET', '/health/ready')).status).toBe(200);
  });

  (process.arch !== 'x64' || !existsSync('/usr/bin/python3') ? it.skip : it)('refuses the system calls of its seccomp filter (ptrace, keyctl) with EPERM', async () => {
    const { id, run: ended } = await run(alice, { agent: 'syscalls', prompt: 'x' });
    expect(ended.status, JSON.stringify(ended.error)).toBe('succeeded');
    expect(await stdout(alice, id)).toEqual(['-1 1', '-1 1']);
  });

  it('ends a 10 GB write at the file size limit', async () => {
    const { id, run: ended } = await run(alice, { agent: 'flood', prompt: 'x' });
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'resource_limit' } });
    expect(statSync(join(server.dataDir, 'users', 'alice', 'runs', id, 'flood')).size).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect((await server.request('GET', '/health/ready')).status).toBe(200);
  });

  it('cancels a sandboxed process tree and leaves no process alive', async () => {
    const submitted = await server.request('POST', '/api/v1/runs', { token: alice, body: { agent: 'tree', prompt: 'x' } });
    const id = submitted.json.id as string;
    await waitFor(async () => (await stdout(alice, id)).some((line) => line.startsWith('pids ')), 15_000, 'the tree');
    const processes = runProcesses(id);
    // bubblewrap, its init, and the three agents.
    expect(processes.length).toBeGreaterThanOrEqual(4);
    const cancelled = await server.request('POST', `/api/v1/runs/${id}/cancel`, { token: alice });
    expect(cancelled.status).toBe(202);
    expect((await waitForStatus(server, alice, id, FINAL)).status).toBe('cancelled');
    expect(processes.filter((p) => isAlive(p.pid))).toEqual([]);
    expect(runProcesses(id)).toEqual([]);
  });
});

/** Whether this test can start the server as an unprivileged user (it runs as root) that can read the build. */
function canRunUnprivileged(): boolean {
  if (process.getuid?.() !== 0) return false;
  const readable = spawnSync('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', 'test', '-r', join(DIST, 'main.js')]);
  if (readable.status !== 0) console.warn('sandbox.e2e-spec: uid 65534 cannot read this checkout, so the unprivileged server is not tested');
  return readable.status === 0;
}

// The deployment every guide recommends: the server under an account of its own. bubblewrap then maps the agent's uid
// to the server's, and the process limit counts the sandbox's user namespace, not the server's own processes.
(!sandboxAvailable() || !canRunUnprivileged() ? describe.skip : describe)('agent sandbox under an unprivileged server', () => {
  const account = { uid: 65534, gid: 65534 };
  let fixtures: string;
  let dataDir: string;
  let env: Record<string, string>;
  let child: ChildProcess;
  let url: string;
  let token: string;

  beforeAll(async () => {
    fixtures = publicFixtures('sandbox-probe.mjs');
    dataDir = mkdtempSync(join(tmpdir(), 'autocode-unprivileged-'));
    chownSync(dataDir, account.uid, account.gid);
    const agentsFile = join(fixtures, 'agents.yaml');
    writeFileSync(
      agentsFile,
      stringify({
        default: 'probe',
        agents: {
          probe: { command: [process.execPath, join(fixtures, 'sandbox-probe.mjs'), '{prompt}'] },
          bomb: { command: ['bash', '-c', ':(){ :|:& };:; sleep 60'], limits: { processes: 64 } },
          sleeper: { command: ['/bin/sh', '-c', 'sleep 600 & sleep 600'] },
        },
      }),
    );
    const port = await freePort();
    env = { PATH: process.env.PATH!, DATA_DIR: dataDir, AGENTS_FILE: agentsFile, PORT: String(port), SANDBOX: 'bwrap', LOG_FORMAT: 'json', JWT_SECRET: 'unprivileged-server-test-secret-0123456789abcdef' };
    child = spawn(process.execPath, [join(DIST, 'main.js')], { env, stdio: 'ignore', ...account });
    url = `http://127.0.0.1:${port}`;
    token = spawnSync(process.execPath, [join(DIST, 'cli.js'), 'token', 'create', '--user', 'alice'], { env, encoding: 'utf8', ...account }).stdout.trim();
    await waitFor(() => request(url, 'GET', '/health/ready').then((r) => r.status === 200, () => false), 30_000, 'the unprivileged server');
  });

  afterAll(async () => {
    child?.kill('SIGTERM');
    if (child && child.exitCode === null) await once(child, 'exit');
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(fixtures, { recursive: true, force: true });
  });

  async function finished(body: Record<string, unknown>): Promise<{ id: string; run: Record<string, unknown> }> {
    const submitted = await request(url, 'POST', '/api/v1/runs', { token, body });
    expect(submitted.status, submitted.text).toBe(202);
    const id = submitted.json.id as string;
    return { id, run: await waitForStatus({ request: (method, path, options) => request(url, method, path, options) }, token, id, FINAL, 30_000) };
  }

  it('keeps the secret and the database out of reach and lets the agent write its workspace', async () => {
    const plan = { read: [join(dataDir, 'autocode.db'), join(dataDir, 'autocode.pid')], write: ['inside.txt', join(dataDir, 'planted.txt')] };
    const { id, run } = await finished({ prompt: JSON.stringify(plan) });
    expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
    const events = (await request(url, 'GET', `/api/v1/runs/${id}/events`, { token })).json.items as { type: string; data: { line: string } }[];
    const report = JSON.parse(events.filter((event) => event.type === 'stdout').at(-1)!.data.line);
    for (const path of plan.read) expect(report.read[path], path).not.toBe('ok');
    expect(report.uid).toBe(1000);
    expect(existsSync(join(dataDir, 'planted.txt'))).toBe(false);
    expect(readFileSync(join(dataDir, 'users', 'alice', 'runs', id, 'inside.txt'), 'utf8')).toBe('written by the agent\n');
  });

  it('ends a fork bomb at its own process limit, which does not count the server', async () => {
    const { run } = await finished({ agent: 'bomb', prompt: 'x' });
    expect(run).toMatchObject({ status: 'failed', error: { code: 'resource_limit' } });
    expect((await request(url, 'GET', '/health/ready')).status).toBe(200);
  });

  it('shuts down with sandboxed agents running: they are cancelled and nothing of them is left', async () => {
    const submitted = await request(url, 'POST', '/api/v1/runs', { token, body: { agent: 'sleeper', prompt: 'x' } });
    const id = submitted.json.id as string;
    await waitFor(() => runProcesses(id).length >= 4, 15_000, 'the sandboxed sleeper');
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(runProcesses(id)).toEqual([]);
    // The server is gone: its database says how the run ended.
    const database = new Database(join(dataDir, 'autocode.db'), { readonly: true });
    try {
      expect(database.prepare('SELECT status FROM runs WHERE id = ?').get(id)).toEqual({ status: 'cancelled' });
    } finally {
      database.close();
    }
  });
});

// Without bubblewrap, a root server still never runs an agent as root: agents run as SANDBOX_UID, so the 0600 secret and
// database, other users' finished workspaces and the server's environment stay out of their reach.
const unsandboxedVariants = [
  ['SANDBOX=none', { SANDBOX: 'none' }],
  ['SANDBOX=auto without a working bubblewrap', { SANDBOX: 'auto', SANDBOX_BWRAP: '/nonexistent/bwrap' }],
] as const;
if (process.getuid?.() !== 0) console.warn('sandbox.e2e-spec: not run as root, so agents without a sandbox under a root server are not tested');
(process.getuid?.() === 0 ? describe.each : describe.skip.each)(unsandboxedVariants)('agents without a sandbox under a root server (%s)', (_name, variant) => {
  let fixtures: string;
  let dataDir: string;
  let database: TestDatabase;
  let server: BuiltServer;
  let tokens: Record<'alice' | 'bob' | 'admin', string>;

  beforeAll(async () => {
    fixtures = publicFixtures('sandbox-probe.mjs');
    dataDir = mkdtempSync(join(tmpdir(), 'autocode-unsandboxed-'));
    database = await createTestDatabase();
    const env = { ...environment(dataDir, database, { ...FIXTURE_AGENTS, probe: { command: [process.execPath, join(fixtures, 'sandbox-probe.mjs'), '{prompt}'] } }), ...variant, LOG_LEVEL: 'info' };
    // The server makes DATA_DIR's secret as it starts; `token create` needs it there.
    server = await startBuiltServer(env);
    tokens = {
      alice: cli(env, 'token', 'create', '--user', 'alice').stdout.trim(),
      bob: cli(env, 'token', 'create', '--user', 'bob').stdout.trim(),
      admin: cli(env, 'token', 'create', '--user', 'ops', '--admin').stdout.trim(),
    };
  });

  afterAll(async () => {
    await server?.stop();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(fixtures, { recursive: true, force: true });
  });

  const api = (method: string, path: string, token: string, body?: unknown) => request(server.url, method, path, { token, body });

  async function probe(token: string, plan: Record<string, unknown>, extra: Record<string, unknown> = {}) {
    const submitted = await api('POST', '/api/v1/runs', token, { agent: 'probe', prompt: JSON.stringify(plan), ...extra });
    expect(submitted.status, submitted.text).toBe(202);
    const id = submitted.json.id as string;
    const finished = await waitForStatus({ request: (method, path, options) => request(server.url, method, path, options) }, token, id, FINAL, 30_000);
    expect(finished.status, JSON.stringify(finished.error)).toBe('succeeded');
    const events = (await api('GET', `/api/v1/runs/${id}/events?limit=1000`, token)).json.items as { type: string; data: { line: string } }[];
    const report = JSON.parse(events.filter((event) => event.type === 'stdout').at(-1)!.data.line) as { read: Record<string, string>; write: Record<string, string>; uid: number };
    return { id, report };
  }

  it('says which protection is in force: in the agents list, the detailed health report and the startup log', async () => {
    const expected = { requested: variant.SANDBOX, mode: 'none', hostUid: 65534, serverUser: false, warning: expect.stringContaining('agents run unsandboxed as uid 65534 and gid 65534 (SANDBOX_UID, SANDBOX_GID) instead of root') };
    const agents = await api('GET', '/api/v1/agents', tokens.alice);
    expect(agents.json.sandbox).toEqual(expected);
    expect(agents.json.items.every((item: { sandboxed: boolean }) => !item.sandboxed)).toBe(true);
    expect((await api('GET', '/health/detailed', tokens.admin)).json.sandbox).toEqual(expected);
    const logged = server.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { level: string; context?: string; msg: string });
    expect(logged.filter((line) => line.context === 'SandboxService')).toEqual([expect.objectContaining({ level: 'warn', msg: agents.json.sandbox.warning })]);
  });

  it("runs the agent as SANDBOX_UID: not the secret, the database, another user's files or the server's environment, but its own workspace", async () => {
    // Bob's run leaves a file in his workspace first.
    const bobs = await probe(tokens.bob, { write: ['bob-private.txt'] });
    const bobFile = join(dataDir, 'users', 'bob', 'runs', bobs.id, 'bob-private.txt');
    expect(readFileSync(bobFile, 'utf8')).toBe('written by the agent\n');

    const serverPid = readFileSync(join(dataDir, 'autocode.pid'), 'utf8').split(' ')[0]!.trim();
    const secrets = [join(dataDir, 'jwt.secret'), ...(database.url ? [] : [join(dataDir, 'autocode.db')]), bobFile, `/proc/${serverPid}/environ`];
    for (const path of secrets) expect(existsSync(path), path).toBe(true);
    const planted = join(dataDir, 'planted.txt');
    const { id, report } = await probe(tokens.alice, { read: secrets, write: ['inside.txt', planted] });

    expect(report.uid).toBe(65534);
    for (const path of secrets) expect(report.read[path], path).toBe('EACCES');
    expect(report.write[planted]).toBe('EACCES');
    expect(existsSync(planted)).toBe(false);
    expect(report.write['inside.txt']).toBe('ok');
    expect(readFileSync(join(dataDir, 'users', 'alice', 'runs', id, 'inside.txt'), 'utf8')).toBe('written by the agent\n');
  });

  it("writes a named workspace's worktree, whose change the server commits and diffs, but not the repository", async () => {
    const created = await api('POST', '/api/v1/workspaces', tokens.alice, { name: 'unsandboxed' });
    expect(created.status, created.text).toBe(201);
    const gitConfig = join(dataDir, 'users', 'alice', 'workspaces', 'unsandboxed', '.git', 'config');
    const { id, report } = await probe(tokens.alice, { write: ['feature.txt', gitConfig] }, { workspace: 'unsandboxed' });
    expect(report.write['feature.txt']).toBe('ok');
    expect(report.write[gitConfig]).toBe('EACCES');
    const diff = await api('GET', `/api/v1/runs/${id}/diff`, tokens.alice);
    expect(diff.status, diff.text).toBe(200);
    expect(diff.text).toContain('diff --git a/feature.txt b/feature.txt');
    expect(diff.text).toContain('+written by the agent');
  });
});

describe('sandbox configuration', () => {
  function start(env: Record<string, string>): { status: number | null; stderr: string } {
    const dataDir = mkdtempSync(join(tmpdir(), 'autocode-sandbox-'));
    try {
      const result = spawnSync(process.execPath, [join(DIST, 'main.js')], {
        env: { PATH: process.env.PATH!, DATA_DIR: dataDir, PORT: '0', LOG_FORMAT: 'json', ...env },
        encoding: 'utf8',
        timeout: 30_000,
      });
      return { status: result.status, stderr: result.stderr };
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }

  it('refuses to start with SANDBOX=bwrap when bubblewrap is missing, saying what to do', () => {
    const result = start({ SANDBOX: 'bwrap', SANDBOX_BWRAP: '/nonexistent/bwrap' });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^autocode: Invalid configuration: SANDBOX=bwrap, but bubblewrap cannot run agents here: "\/nonexistent\/bwrap" was not found; install bubblewrap/);
  });

  it('warns and runs unsandboxed with SANDBOX=auto when bubblewrap is missing', async () => {
    const server = await startTestServer({ env: { SANDBOX: 'auto', SANDBOX_BWRAP: '/nonexistent/bwrap' } });
    try {
      const agents = await server.request('GET', '/api/v1/agents', { token: server.token('alice') });
      expect(agents.json.sandbox).toMatchObject({ requested: 'auto', mode: 'none', warning: expect.stringContaining('agents run unsandboxed') });
      expect(agents.json.items.every((item: { sandboxed: boolean }) => !item.sandboxed)).toBe(true);
      const health = await server.request('GET', '/health/detailed', { token: server.token('ops', { admin: true }) });
      expect(health.json.sandbox.warning).toContain('bubblewrap');
      const run = await server.request('POST', '/api/v1/runs', { token: server.token('alice'), body: { agent: 'lines', prompt: 'x' } });
      expect((await waitForStatus(server, server.token('alice'), run.json.id, FINAL)).status).toBe('succeeded');
    } finally {
      await disposeTestServer(server);
    }
  });

  it('lets a profile opt out of the sandbox only when the server allows it', async () => {
    const agentsFile = join(mkdtempSync(join(tmpdir(), 'autocode-optout-')), 'agents.yaml');
    writeFileSync(agentsFile, 'agents:\n  loose:\n    command: [echo, hi]\n    sandbox: false\n');
    try {
      const refused = start({ SANDBOX: 'none', AGENTS_FILE: agentsFile });
      expect(refused.status).toBe(1);
      expect(refused.stderr).toMatch(/agents\.loose\.sandbox is false, which the server allows only with SANDBOX_ALLOW_OPT_OUT=true/);
    } finally {
      rmSync(dirname(agentsFile), { recursive: true, force: true });
    }
    const server = await startTestServer({
      env: { SANDBOX: 'none', SANDBOX_ALLOW_OPT_OUT: 'true' },
      agents: { ...FIXTURE_AGENTS, loose: { command: ['echo', 'hi'], sandbox: false } },
    });
    try {
      const agents = await server.request('GET', '/api/v1/agents', { token: server.token('alice') });
      expect(agents.json.items.find((item: { name: string }) => item.name === 'loose')).toMatchObject({ sandboxed: false });
    } finally {
      await disposeTestServer(server);
    }
  });
});
