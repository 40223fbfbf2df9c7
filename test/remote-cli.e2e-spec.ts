import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { autocode, clientEnv, startCli } from './helpers/autocode.js';
import { startProxy } from './helpers/tcp-proxy.js';
import {
  cli,
  createTestDatabase,
  disposeTestServer,
  environment,
  FIXTURE_AGENTS,
  freePort,
  request,
  startBuiltServer,
  startTestServer,
  waitFor,
  waitForStatus,
  type TestDatabase,
  type TestServer,
} from './helpers/test-server.js';

// `autocode` as a CI job or a laptop uses it: the built CLI in a child process, a server over
// real HTTP, no DATA_DIR of its own.

/** 40 lines, 40 ms apart: a run still going when its stream is cut. */
const DRIP = { executor: 'command', command: [process.execPath, '-e', "let i = 0; const t = setInterval(() => { console.log('drip ' + ++i); if (i === 40) clearInterval(t); }, 40);"] };
const LINES = 'line 1\nline 2\nline 3\nline 4\nline 5\n';
const ANSI = /\u001b\[/;
const VERSION = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version as string;

describe('autocode remote commands', () => {
  let server: TestServer;
  let home: string;
  let env: (user: string, extra?: Record<string, string>) => Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer({ agents: { ...FIXTURE_AGENTS, drip: DRIP } });
    home = mkdtempSync(join(tmpdir(), 'autocode-home-'));
    env = (user, extra = {}) => clientEnv(home, { url: server.url, token: server.token(user) }, extra);
  });
  afterAll(async () => {
    await disposeTestServer(server);
    rmSync(home, { recursive: true, force: true });
  });

  it('login saves a context (0600, token never printed), whoami reads it, AUTOCODE_* override it, logout forgets it', async () => {
    const laptop = mkdtempSync(join(tmpdir(), 'autocode-laptop-'));
    try {
      const token = server.token('dana');
      const local = clientEnv(laptop);
      const login = await autocode(local, ['login', '--server', `${server.url}/`, '--token-stdin', '--context', 'work'], { input: `${token}\n` });
      expect(login.status, login.stderr).toBe(0);
      expect(login.stdout + login.stderr).not.toContain(token);
      const file = join(laptop, '.config', 'autocode', 'config.json');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ current: 'work', contexts: { work: { server: server.url, token } } });

      const whoami = await autocode(local, ['whoami']);
      expect(whoami.status, whoami.stderr).toBe(0);
      expect(whoami.stdout).toMatch(/user: +dana \(user/);
      expect(whoami.stdout).toMatch(/tier: +standard/);
      expect(whoami.stdout).toMatch(/today: +0 of 50 runs/);
      expect(whoami.stdout).toMatch(/budget: +\$0\.00 of \$20\.00 today/);
      expect(whoami.stdout).not.toContain(token);

      // The variables win over the saved context: CI sets them.
      const overridden = await autocode({ ...local, AUTOCODE_TOKEN: server.token('erin') }, ['whoami', '--json']);
      expect(JSON.parse(overridden.stdout)).toMatchObject({ server: server.url, user: 'erin' });

      const unknownContext = await autocode(local, ['whoami', '--context', 'nope']);
      expect(unknownContext.status).toBe(2);
      expect(unknownContext.stderr).toContain('no context named "nope" (known: work)');

      const logout = await autocode(local, ['logout']);
      expect(logout.status, logout.stderr).toBe(0);
      const after = await autocode(local, ['whoami']);
      expect(after.status).toBe(2);
      expect(after.stderr).toContain('no server configured');

      const refused = await autocode(local, ['login', '--server', server.url, '--token', 'not-a-token']);
      expect(refused.status, refused.stderr).toBe(4);
      expect(existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).contexts : {}).toEqual({});
      const closed = await autocode(local, ['login', '--server', `http://127.0.0.1:${await freePort()}`, '--token', token]);
      expect(closed.status, closed.stderr).toBe(3);
      expect(closed.stderr).toContain('cannot reach');
    } finally {
      rmSync(laptop, { recursive: true, force: true });
    }
  });

  it('run follows to succeeded and exits 0: agent stdout on stdout once each, plain lines and a summary on stderr', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'autocode-cwd-'));
    try {
      const result = await autocode(env('alice'), ['run', '--agent', 'lines', '--metadata', 'ci=build-1', '--metadata', 'branch=main', 'hello'], { cwd });
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toBe(LINES);
      expect(result.stderr).toMatch(/\] running\n/);
      expect(result.stderr).toContain('done on stderr\n');
      expect(result.stderr).toMatch(/\nsucceeded · \d+\.\ds · run [0-9a-f-]{36}\n$/);
      expect(result.stderr).not.toMatch(ANSI);
      const id = /run ([0-9a-f-]{36})\n$/.exec(result.stderr)![1]!;
      expect((await server.request('GET', `/api/v1/runs/${id}`, { token: server.token('alice') })).json.metadata).toEqual({ ci: 'build-1', branch: 'main' });
      // A client makes no server data where it runs.
      expect(existsSync(join(cwd, 'data'))).toBe(false);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('exits with the outcome: 1 failed, 124 timed out', async () => {
    const failed = await autocode(env('alice'), ['run', '--agent', 'fail', 'x']);
    expect(failed.status, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(/\nfailed · .*agent_failed/);
    const timedOut = await autocode(env('alice'), ['run', '--agent', 'sleeper', '--timeout', '1', 'x']);
    expect(timedOut.status, timedOut.stderr).toBe(124);
    expect(timedOut.stderr).toMatch(/\ntimed_out · /);
  });

  it('--json prints each event as one JSON line in seq order, then the final run; - reads the prompt from stdin', async () => {
    const prompt = 'from stdin, with "quotes"\nand a second line';
    const result = await autocode(env('alice'), ['run', '--agent', 'echo', '--json', '-'], { input: `${prompt}\n` });
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line));
    const run = lines.pop();
    expect(run).toMatchObject({ status: 'succeeded', prompt });
    expect(lines.map((event) => event.seq)).toEqual(lines.map((_, i) => i + 1));
    expect(lines.at(-1)).toMatchObject({ type: 'status', data: { status: 'succeeded' } });
    const echoed = JSON.parse(lines.find((event) => event.type === 'stdout').data.line);
    expect(echoed).toMatchObject({ argv: [`--prompt=${prompt}`, ''], stdin: prompt });
    expect(result.stderr).toBe('');
  });

  it('maps refusals to exit codes: 2 usage and 400, 3 unreachable, 4 bad token, 5 quota with Retry-After', async () => {
    const noPrompt = await autocode(env('alice'), ['run']);
    expect(noPrompt.status).toBe(2);
    expect(noPrompt.stderr).toContain('a prompt is required');
    const badAgent = await autocode(env('alice'), ['run', '--agent', 'nope', 'x']);
    expect(badAgent.status).toBe(2);
    expect(badAgent.stderr).toContain('unknown_agent');
    const badTimeout = await autocode(env('alice'), ['run', '--timeout', 'soon', 'x']);
    expect(badTimeout.status).toBe(2);
    expect(badTimeout.stderr).toContain("option '--timeout <seconds>' argument 'soon' is invalid");
    const badBudget = await autocode(env('alice'), ['run', '--max-budget-usd', 'lots', 'x']);
    expect(badBudget.status).toBe(2);
    expect(badBudget.stderr).toContain("option '--max-budget-usd <usd>' argument 'lots' is invalid");
    const overBudget = await autocode(env('alice'), ['run', '--max-budget-usd', '1000', 'x']);
    expect(overBudget.status).toBe(2);
    expect(overBudget.stderr).toContain('budget_exceeds_quota');

    const unreachable = await autocode(clientEnv(home, { url: `http://127.0.0.1:${await freePort()}`, token: 't' }), ['run', 'x']);
    expect(unreachable.status).toBe(3);
    expect(unreachable.stderr).toMatch(/cannot reach .*ECONNREFUSED/);
    const unauthorized = await autocode(clientEnv(home, { url: server.url, token: 'not-a-token' }), ['run', 'x']);
    expect(unauthorized.status).toBe(4);
    expect(unauthorized.stderr).toContain('401');

    // An admin caps the user from the CLI (users and quota talk to the server when one is configured).
    const admin = clientEnv(home, { url: server.url, token: server.token('root', { admin: true }) });
    const set = await autocode(admin, ['quota', 'set', '--user', 'frank', '--daily', '0']);
    expect(set.status, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/daily +0\/0 \(override\)/);
    const refused = await autocode(env('frank'), ['run', 'x']);
    expect(refused.status, refused.stderr).toBe(5);
    expect(refused.stderr).toMatch(/daily_limit\); retry after \d+ s/);
    const budget = await autocode(admin, ['quota', 'set', '--user', 'hana', '--daily-budget-usd', '0']);
    expect(budget.status, budget.stderr).toBe(0);
    expect(budget.stdout).toMatch(/budget +\$0\.00 of \$0\.00 today \(override\)/);
    const spent = await autocode(env('hana'), ['run', 'x']);
    expect(spent.status, spent.stderr).toBe(5);
    expect(spent.stderr).toMatch(/budget_exhausted\); retry after \d+ s/);
    const users = await autocode(admin, ['users', 'list', '--json']);
    expect(JSON.parse(users.stdout).items.map((user: { userId: string }) => user.userId)).toContain('frank');
    const forbidden = await autocode(env('frank'), ['users', 'list']);
    expect(forbidden.status).toBe(4);
  });

  it('--detach prints the id at once; runs wait, show, logs, logs -f, list, diff and --diff work on it', async () => {
    const token = server.token('gina');
    expect((await server.request('POST', '/api/v1/workspaces', { token, body: { name: 'app' } })).status).toBe(201);
    const detached = await autocode(env('gina'), ['run', '--detach', '--agent', 'writer', '--workspace', 'app', JSON.stringify({ file: 'notes.txt', content: 'hello\n', sleep: 0.5 })]);
    expect(detached.status, detached.stderr).toBe(0);
    const id = detached.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await server.request('GET', `/api/v1/runs/${id}`, { token })).json.status).toMatch(/queued|running/);

    const wait = await autocode(env('gina'), ['runs', 'wait', id]);
    expect(wait.status, wait.stderr).toBe(0);
    expect(wait.stdout).toBe('');
    expect(wait.stderr).toMatch(/succeeded · .* · 1 file changed · run /);

    const show = await autocode(env('gina'), ['runs', 'show', id, '--json']);
    expect(JSON.parse(show.stdout)).toMatchObject({ id, status: 'succeeded', workspace: 'app' });
    const logs = await autocode(env('gina'), ['runs', 'logs', id]);
    expect(logs.stdout).toContain('"files":["notes.txt"]');
    const follow = await autocode(env('gina'), ['runs', 'logs', '-f', id]);
    expect(follow.status).toBe(0);
    expect(follow.stdout).toBe(logs.stdout);
    const list = await autocode(env('gina'), ['runs', 'list', '--status', 'succeeded']);
    expect(list.stdout).toContain(id);
    const diff = await autocode(env('gina'), ['runs', 'diff', id]);
    expect(diff.stdout).toContain('+++ b/notes.txt');

    const patch = join(home, 'run.patch');
    const withDiff = await autocode(env('gina'), ['run', '--agent', 'writer', '--workspace', 'app', '--diff', patch, JSON.stringify({ file: 'more.txt', content: 'more\n' })]);
    expect(withDiff.status, withDiff.stderr).toBe(0);
    expect(readFileSync(patch, 'utf8')).toContain('+++ b/more.txt');

    const missing = await autocode(env('gina'), ['runs', 'show', '00000000-0000-4000-8000-000000000000']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('run_not_found');
    const others = await autocode(env('hank'), ['runs', 'show', id]);
    expect(others.status).toBe(1);
  });

  it('runs cancel stops a running run and exits 0; a second cancel exits 1', async () => {
    const token = server.token('ivan');
    const submitted = await server.request('POST', '/api/v1/runs', { token, body: { agent: 'sleeper', prompt: 'wait' } });
    await waitForStatus(server, token, submitted.json.id, ['running']);
    const cancel = await autocode(env('ivan'), ['runs', 'cancel', '--wait', submitted.json.id]);
    expect(cancel.status, cancel.stderr).toBe(130);
    expect(cancel.stdout).toBe(`${submitted.json.id} cancelled\n`);
    const again = await autocode(env('ivan'), ['runs', 'cancel', submitted.json.id]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('run_finished');
  });

  it('Ctrl-C cancels the remote run, waits for its end and exits 130', async () => {
    const running = startCli(env('judy'), ['run', '--agent', 'sleeper', 'x']);
    await waitFor(() => /\] running\n/.test(running.stderr()), 15_000, 'the run to start');
    running.child.kill('SIGINT');
    const result = await running.result;
    expect(result.status, result.stderr).toBe(130);
    expect(result.stderr).toContain('SIGINT: cancelling run');
    expect(result.stderr).toMatch(/\ncancelled · .* · run [0-9a-f-]{36}\n$/);
    const id = /run ([0-9a-f-]{36})\n$/.exec(result.stderr)![1]!;
    expect((await server.request('GET', `/api/v1/runs/${id}`, { token: server.token('judy') })).json).toMatchObject({ status: 'cancelled', cancelRequested: true });
  });

  it('a second Ctrl-C leaves at once, without waiting for the run', async () => {
    // The `trap` agent ignores SIGTERM once it has said `started`, so the run ends only after the
    // grace period: the first Ctrl-C alone would wait for that.
    const running = startCli(env('kate'), ['run', '--agent', 'trap', 'x']);
    await waitFor(() => running.stdout().includes('started '), 15_000, 'the agent to start');
    running.child.kill('SIGINT');
    await waitFor(() => running.stderr().includes('cancelling run'), 5_000, 'the cancel');
    running.child.kill('SIGINT');
    const result = await running.result;
    expect(result.status, result.stderr).toBe(130);
    expect(result.stderr).toContain('SIGINT: cancelling run');
    expect(result.stderr).toContain('SIGINT: leaving;');
    expect(result.stderr).not.toMatch(/\ncancelled · /);
  });

  it('resumes a stream cut by the network from the last event: every line exactly once', async () => {
    const proxy = await startProxy(server.url, [900, 1500, 400]);
    try {
      const result = await autocode(clientEnv(home, { url: proxy.url, token: server.token('liam') }), ['run', '--agent', 'drip', 'x']);
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toBe(Array.from({ length: 40 }, (_, i) => `drip ${i + 1}\n`).join(''));
      expect(proxy.streams.length).toBeGreaterThanOrEqual(4);
      expect(result.stderr).toContain('connection lost');
    } finally {
      await proxy.close();
    }
  });
});

describe('autocode usage errors and local commands on a fresh machine', () => {
  let home: string;
  let bare: Record<string, string>;

  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'autocode-fresh-'));
    bare = clientEnv(home, undefined, { DATA_DIR: join(home, 'data') });
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('prints its version', async () => {
    const version = await autocode(bare, ['--version']);
    expect(version.status).toBe(0);
    expect(version.stdout).toBe(`${VERSION}\n`);
  });

  it('suggests the nearest command or flag and exits 2', async () => {
    const runs = await autocode(bare, ['runs', 'lst']);
    expect(runs.status).toBe(2);
    expect(runs.stderr).toContain("unknown command 'lst'");
    expect(runs.stderr).toContain('(Did you mean list?)');
    const top = await autocode(bare, ['rnu', 'x']);
    expect(top.status).toBe(2);
    expect(top.stderr).toContain('(Did you mean run?)');
    const flag = await autocode(bare, ['run', '--agnet', 'x', 'y']);
    expect(flag.status).toBe(2);
    expect(flag.stderr).toContain('(Did you mean --agent?)');
    const badId = await autocode(bare, ['runs', 'show', 'not-a-uuid']);
    expect(badId.status).toBe(2);
    expect(badId.stderr).toContain('a run id is a UUID');
  });

  it('answers --help of every command without creating DATA_DIR, a database or a secret', async () => {
    const commands = [[], ['run'], ['runs'], ['runs', 'list'], ['runs', 'logs'], ['runs', 'wait'], ['login'], ['whoami'], ['serve'], ['server'], ['server', 'start'], ['token', 'create'], ['db', 'migrate'], ['users', 'list'], ['quota', 'set'], ['agents', 'list']];
    for (const command of commands) {
      const help = await autocode(bare, [...command, '--help'], { cwd: home });
      expect(help.status, `${command.join(' ')}: ${help.stderr}`).toBe(0);
      expect(help.stdout, command.join(' ')).toContain('Usage: autocode');
    }
    expect(existsSync(join(home, 'data'))).toBe(false);
  });

  it('admin commands refuse a DATA_DIR with no server data instead of making a new secret', async () => {
    for (const command of [['token', 'create', '--user', 'a'], ['users', 'list'], ['quota', 'show', '--user', 'a'], ['db', 'migrate'], ['server', 'status']]) {
      const refused = await autocode(bare, command, { cwd: home });
      expect(refused.status, command.join(' ')).toBe(1);
      expect(refused.stderr, command.join(' ')).toMatch(/^autocode: no server data: DATA_DIR .* does not exist/);
    }
    expect(existsSync(join(home, 'data'))).toBe(false);
  });

  it('reports a mistyped admin flag or subcommand as such, with a suggestion', async () => {
    const flag = await autocode(bare, ['quota', 'set', '--usr', 'x', '--help'], { cwd: home });
    expect(flag.status).toBe(0);
    const server = await startTestServer();
    try {
      const local = clientEnv(home, undefined, { DATA_DIR: server.dataDir, ...(server.database.url ? { DATABASE_URL: server.database.url } : {}) });
      const mistyped = await autocode(local, ['quota', 'set', '--usr', 'x']);
      expect(mistyped.status).toBe(2);
      expect(mistyped.stderr).toContain("unknown option '--usr'");
      expect(mistyped.stderr).toContain('(Did you mean --user?)');
      const missing = await autocode(local, ['quota', 'set', '--daily', '3']);
      expect(missing.status).toBe(2);
      expect(missing.stderr).toContain("required option '--user <id>' not specified");
      const token = await autocode(local, ['token', 'lst']);
      expect(token.status).toBe(2);
      expect(token.stderr).toContain("unknown command 'lst'");
    } finally {
      await disposeTestServer(server);
    }
  });
});


describe('autocode run across a server restart', () => {
  let dataDir: string;
  let database: TestDatabase;
  let serverEnv: Record<string, string>;
  let home: string;
  let token: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'autocode-restart-'));
    home = mkdtempSync(join(tmpdir(), 'autocode-home-'));
    database = await createTestDatabase();
    // One agent at a time on a port of its own, so that a restarted server is found at the same URL.
    serverEnv = environment(dataDir, database, FIXTURE_AGENTS, { PORT: String(await freePort()), MAX_CONCURRENT_AGENTS: '1', LOG_LEVEL: 'info' });
  });
  afterAll(async () => {
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  it('a run queued when the server restarts is followed to its end: exit 0, each line once', async () => {
    let server = await startBuiltServer(serverEnv);
    try {
      token = cli(serverEnv, 'token', 'create', '--user', 'mia').stdout.trim();
      const blocker = await request(server.url, 'POST', '/api/v1/runs', { token, body: { agent: 'sleeper', prompt: 'hold the only slot' } });
      await waitForStatus({ request: (method, path, options) => request(server.url, method, path, options) }, token, blocker.json.id, ['running']);
      const following = startCli(clientEnv(home, { url: server.url, token }), ['run', '--agent', 'lines', 'after the restart'], { timeoutMs: 90_000 });
      await waitFor(() => following.stderr().includes('· agent lines'), 15_000, 'the submit');
      await server.stop();
      server = await startBuiltServer(serverEnv);
      const result = await following.result;
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toBe(LINES);
      expect(result.stderr).toContain('connection lost');
    } finally {
      await server.stop();
    }
  });

  it('a run whose server was killed ends interrupted after the restart: exit 125', async () => {
    let server = await startBuiltServer(serverEnv);
    try {
      const following = startCli(clientEnv(home, { url: server.url, token }), ['run', '--agent', 'sleeper', 'killed under me'], { timeoutMs: 90_000 });
      await waitFor(() => /\] running\n/.test(following.stderr()), 15_000, 'the run to start');
      process.kill(server.pid, 'SIGKILL');
      await waitFor(() => following.stderr().includes('connection lost'), 10_000, 'the CLI to notice');
      server = await startBuiltServer(serverEnv);
      const result = await following.result;
      expect(result.status, result.stderr).toBe(125);
      expect(result.stderr).toMatch(/\ninterrupted · .* · run [0-9a-f-]{36}\n$/);
    } finally {
      await server.stop();
    }
  });
});
