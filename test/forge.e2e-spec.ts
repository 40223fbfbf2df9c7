import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { expect } from './jest/expect.js';
import { autocode, clientEnv } from './helpers/autocode.js';
import { startForgeStub, type ForgeStub } from './helpers/forge-stub.js';
import { startGitHttpServer, type GitHttpServer } from './helpers/git-http-server.js';
import { disposeTestServer, FIXTURE_AGENTS, fixtureProfile, startTestServer, waitFor, waitForStatus, type TestResponse, type TestServer } from './helpers/test-server.js';
import { git } from './helpers/git.js';

// From a run's diff to a pull request, end to end: real git pushing over file:// and over smart
// HTTP (git http-backend behind a local server with Basic authentication), stand-ins of GitHub's
// and GitLab's REST APIs on 127.0.0.1, real agents, real HTTP (SQLite here; PostgreSQL when the
// services suite runs this file).

if (spawnSync('git', ['--version']).status !== 0) throw new Error('these tests need git on PATH');

const TOKEN = 'ghp_forgeTestToken0123456789abcdefXYZ';
const USERNAME = 'pusher';

/** A bare repository with README.md on `main`, as a forge would host it. */
function makeBareRepo(path: string): void {
  const work = mkdtempSync(join(tmpdir(), 'autocode-forge-src-'));
  git(work, 'init', '--quiet', '--initial-branch=main');
  writeFileSync(join(work, 'README.md'), '# widgets\n');
  git(work, 'add', 'README.md');
  git(work, 'commit', '--quiet', '-m', 'readme');
  git(work, 'clone', '--quiet', '--bare', work, path);
  rmSync(work, { recursive: true, force: true });
}

/** Every file under `dir`, with its content (symlinks not followed). */
function filesUnder(dir: string): { path: string; content: Buffer }[] {
  if (!existsSync(dir)) return [];
  const found: { path: string; content: Buffer }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile()) found.push({ path, content: readFileSync(path) });
  }
  return found;
}

describe('pushing runs and opening pull requests', () => {
  let server: TestServer;
  let scratch: string;
  let gitServer: GitHttpServer;
  let github: ForgeStub;
  let gitlab: ForgeStub;
  let receiver: Server;
  let deliveries: { type: string; data: { run: Record<string, unknown> } }[];
  let alice: string;
  let bob: string;
  let logFile: string;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'autocode-forge-'));
    makeBareRepo(join(scratch, 'origin.git'));
    mkdirSync(join(scratch, 'served'));
    makeBareRepo(join(scratch, 'served', 'widgets.git'));
    gitServer = await startGitHttpServer(join(scratch, 'served'), { username: USERNAME, password: TOKEN });
    github = await startForgeStub('github');
    gitlab = await startForgeStub('gitlab');
    deliveries = [];
    receiver = createServer((request, response) => {
      let text = '';
      request.on('data', (chunk) => (text += chunk));
      request.on('end', () => {
        deliveries.push(JSON.parse(text));
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    mkdirSync(join(scratch, 'data'), { mode: 0o700 });
    logFile = join(scratch, 'server.log');
    server = await start();
    alice = server.token('alice');
    bob = server.token('bob');
  });

  /** The server, on the scratch data directory (and, restarted, on the same database). */
  function start(database?: TestServer['database']): Promise<TestServer> {
    return startTestServer({
      dataDir: join(scratch, 'data'),
      database,
      agents: { ...FIXTURE_AGENTS, dumper: fixtureProfile('dump-env.mjs') },
      env: {
        WORKSPACE_REPO_SCHEMES: 'file,http',
        WORKSPACE_FILE_ROOTS: scratch,
        FORGE_ALLOW_PRIVATE_NETWORKS: 'true',
        WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
        PUBLIC_URL: 'https://autocode.example.com/',
        LOG_FILE: logFile,
        LOG_LEVEL: 'debug',
      },
    });
  }

  afterAll(async () => {
    if (server) await disposeTestServer(server);
    await gitServer?.close();
    await github?.close();
    await gitlab?.close();
    receiver?.closeAllConnections();
    await new Promise((resolve) => receiver?.close(resolve));
    rmSync(scratch, { recursive: true, force: true });
  });

  const api = (method: string, path: string, token: string, body?: unknown): Promise<TestResponse> => server.request(method, path, { token, body });

  async function createWorkspace(body: Record<string, unknown>, token = alice): Promise<TestResponse['json']> {
    const response = await api('POST', '/api/v1/workspaces', token, body);
    expect(response.status, response.text).toBe(201);
    return response.json;
  }

  async function finishedRun(body: Record<string, unknown>, token = alice, statuses = ['succeeded']): Promise<TestResponse['json']> {
    const response = await api('POST', '/api/v1/runs', token, body);
    expect(response.status, response.text).toBe(202);
    const run = await waitForStatus(server, token, response.json.id, ['succeeded', 'failed', 'cancelled', 'timed_out']);
    expect(statuses, JSON.stringify(run)).toContain(run.status);
    return run;
  }

  const writer = (file: string, content: string): string => JSON.stringify({ file, content });

  it('pushes a run\'s branch to a bare repository over file://, again without harm', async () => {
    await createWorkspace({ name: 'files', repoUrl: pathToFileURL(join(scratch, 'origin.git')).href });
    const run = await finishedRun({ agent: 'writer', prompt: writer('feature.txt', 'new feature\n'), workspace: 'files' });

    const pushed = await api('POST', `/api/v1/runs/${run.id}/push`, alice);
    expect(pushed.status, pushed.text).toBe(200);
    expect(pushed.json).toEqual({ branch: `autocode/${run.id}`, commit: expect.stringMatching(/^[0-9a-f]{40}$/), remote: pathToFileURL(join(scratch, 'origin.git')).href });
    const origin = join(scratch, 'origin.git');
    expect(git(origin, 'rev-parse', `refs/heads/autocode/${run.id}`)).toBe(pushed.json.commit);
    expect(git(origin, 'show', `${pushed.json.commit}:feature.txt`)).toBe('new feature');
    expect(git(origin, 'rev-parse', `${pushed.json.commit}^`)).toBe(run.baseCommit);

    const again = await api('POST', `/api/v1/runs/${run.id}/push`, alice);
    expect(again.status, again.text).toBe(200);
    expect(again.json.commit).toBe(pushed.json.commit);
  });

  it('refuses what cannot be pushed: no changes, an active run, no workspace, an empty workspace, another user\'s run', async () => {
    const unchanged = await finishedRun({ agent: 'fast', prompt: 'nothing', workspace: 'files' });
    const nothing = await api('POST', `/api/v1/runs/${unchanged.id}/push`, alice);
    expect([nothing.status, nothing.json.code], nothing.text).toEqual([409, 'nothing_to_push']);

    const plain = await finishedRun({ agent: 'fast', prompt: 'no workspace' });
    expect((await api('POST', `/api/v1/runs/${plain.id}/push`, alice)).json.code).toBe('nothing_to_push');

    await createWorkspace({ name: 'empty' });
    const local = await finishedRun({ agent: 'writer', prompt: writer('a.txt', 'a'), workspace: 'empty' });
    const noRemote = await api('POST', `/api/v1/runs/${local.id}/push`, alice);
    expect([noRemote.status, noRemote.json.code], noRemote.text).toEqual([409, 'no_remote']);

    const sleeping = await api('POST', '/api/v1/runs', alice, { agent: 'sleeper', prompt: 'wait', workspace: 'files' });
    await waitForStatus(server, alice, sleeping.json.id, ['running']);
    const busy = await api('POST', `/api/v1/runs/${sleeping.json.id}/push`, alice);
    expect([busy.status, busy.json.code], busy.text).toEqual([409, 'run_active']);
    const busyPr = await api('POST', `/api/v1/runs/${sleeping.json.id}/pull-request`, alice, {});
    expect([busyPr.status, busyPr.json.code], busyPr.text).toEqual([409, 'run_active']);
    await api('POST', `/api/v1/runs/${sleeping.json.id}/cancel`, alice);
    await waitForStatus(server, alice, sleeping.json.id, ['cancelled']);

    const changed = await finishedRun({ agent: 'writer', prompt: writer('b.txt', 'b'), workspace: 'files' });
    for (const path of [`/api/v1/runs/${changed.id}/push`, `/api/v1/runs/${changed.id}/pull-request`]) {
      const other = await api('POST', path, bob, {});
      expect([other.status, other.json.code], `${path}: ${other.text}`).toEqual([404, 'run_not_found']);
    }
    expect(git(join(scratch, 'origin.git'), 'branch', '--list', `autocode/${changed.id}`)).toBe('');
    // Without a forge, no pull request (and nothing is pushed for one).
    const noForge = await api('POST', `/api/v1/runs/${changed.id}/pull-request`, alice, {});
    expect([noForge.status, noForge.json.code], noForge.text).toEqual([409, 'forge_not_configured']);
    expect(git(join(scratch, 'origin.git'), 'branch', '--list', `autocode/${changed.id}`)).toBe('');
  });

  it('pushes over smart HTTP with the stored credential, which reaches neither the agent, the workspace, the log nor the database', async () => {
    const remote = `${gitServer.url}/widgets.git`;
    await createWorkspace({ name: 'served', repoUrl: remote, forge: { kind: 'github', apiUrl: `${github.url}/api/v3`, repository: 'acme/widgets' } });

    // Without a credential the server refuses the push, and git's refusal is passed on.
    const early = await finishedRun({ agent: 'writer', prompt: writer('early.txt', 'x'), workspace: 'served' });
    const refused = await api('POST', `/api/v1/runs/${early.id}/push`, alice);
    expect([refused.status, refused.json.code], refused.text).toEqual([502, 'push_failed']);
    expect(refused.json.repoUrl).toBe(remote);

    const stored = await api('PUT', '/api/v1/workspaces/served/credentials', alice, { kind: 'token', token: TOKEN, username: USERNAME });
    expect(stored.status, stored.text).toBe(200);
    expect(stored.json).toEqual({ kind: 'token', username: USERNAME, updatedAt: expect.any(String) });
    const missing = await api('PUT', '/api/v1/workspaces/nowhere/credentials', alice, { kind: 'token', token: TOKEN });
    expect([missing.status, missing.json.code]).toEqual([404, 'workspace_not_found']);
    const bobs = await api('PUT', '/api/v1/workspaces/served/credentials', bob, { kind: 'token', token: 'bobs-token-123456' });
    expect([bobs.status, bobs.json.code]).toEqual([404, 'workspace_not_found']);
    const invalid = await api('PUT', '/api/v1/workspaces/served/credentials', alice, { kind: 'password', token: TOKEN });
    expect([invalid.status, invalid.json.code]).toEqual([400, 'validation_failed']);
    expect(invalid.text).not.toContain(TOKEN);

    const run = await finishedRun({ agent: 'dumper', prompt: 'Dump the environment\n\nand write CHANGES.md', workspace: 'served' });
    const before = gitServer.requests.length;
    const pushed = await api('POST', `/api/v1/runs/${run.id}/push`, alice);
    expect(pushed.status, pushed.text).toBe(200);
    expect(git(join(scratch, 'served', 'widgets.git'), 'rev-parse', `refs/heads/autocode/${run.id}`)).toBe(pushed.json.commit);
    // The push authenticated with the stored credential, given as Basic authentication, never in the URL.
    const pushRequests = gitServer.requests.slice(before).filter((request) => request.method === 'POST' && request.url.endsWith('/git-receive-pack'));
    expect(pushRequests.length).toBeGreaterThan(0);
    expect(pushRequests.every((request) => request.basic === `${USERNAME}:${TOKEN}` && request.status === 200)).toBe(true);
    expect(gitServer.requests.every((request) => !request.url.includes(TOKEN) && !request.url.includes(USERNAME))).toBe(true);

    // Nowhere on the server's disk in plain text: the workspace (its .git/config included), the run's worktree, the agent's home, the database.
    const dataFiles = filesUnder(server.config.dataDir);
    expect(dataFiles.length).toBeGreaterThan(10);
    expect(dataFiles.filter((file) => file.content.includes(TOKEN)).map((file) => file.path)).toEqual([]);
    // Whichever database holds it (PostgreSQL in the services suite), the column holds an AES-GCM envelope.
    const envelopes = (await server.app.get(DataSource).query("SELECT credential FROM workspaces WHERE name = 'served'")) as { credential: string }[];
    expect(envelopes).toEqual([{ credential: expect.stringMatching(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/) }]);
    expect(envelopes[0]!.credential).not.toContain(TOKEN);
    const config = readFileSync(join(server.config.dataDir, 'users', 'alice', 'workspaces', 'served', '.git', 'config'), 'utf8');
    expect(config).toContain(remote);
    expect(config).not.toMatch(/credential|insteadOf|@127/);
    // Not in the agent's environment: it printed all of it.
    const events = await api('GET', `/api/v1/runs/${run.id}/events?limit=1000`, alice);
    const dump = (events.json.items as { type: string; data: { line?: string } }[]).find((event) => event.type === 'stdout' && event.data.line?.startsWith('{"env"'));
    expect(dump, events.text).toBeDefined();
    const env = JSON.parse(dump!.data.line!).env as Record<string, string>;
    expect(env.AUTOCODE_RUN_ID).toBe(run.id);
    expect(Object.values(env).some((value) => value.includes(TOKEN))).toBe(false);
    expect(Object.keys(env).filter((name) => /GIT|PUSH|SECRET|TOKEN/.test(name))).toEqual([]);
    // Not in the log (at debug level), which did record the push.
    const log = readFileSync(logFile, 'utf8');
    expect(log).toContain('run branch pushed');
    expect(log).not.toContain(TOKEN);
    // Not in any answer.
    const workspace = await api('GET', '/api/v1/workspaces/served', alice);
    expect(workspace.json.forge).toEqual({ kind: 'github', apiUrl: `${github.url}/api/v3`, repository: 'acme/widgets' });
    expect(workspace.text).not.toContain(TOKEN);

    // The workspace's own git configuration, which an unsandboxed agent could edit, takes no part in a push:
    // neither a credential helper that would receive the token nor a rewrite of the remote's URL.
    const leak = join(scratch, 'leaked-credential');
    const elsewhere = join(scratch, 'elsewhere.git');
    makeBareRepo(elsewhere);
    const workspaceGit = join(server.config.dataDir, 'users', 'alice', 'workspaces', 'served');
    git(workspaceGit, 'config', 'credential.helper', `!f() { cat >> ${leak}; }; f`);
    git(workspaceGit, 'config', `url.${pathToFileURL(elsewhere).href}.pushInsteadOf`, remote);
    const hijacked = await finishedRun({ agent: 'dumper', prompt: 'Hijack attempt', workspace: 'served' });
    const clean = await api('POST', `/api/v1/runs/${hijacked.id}/push`, alice);
    expect(clean.status, clean.text).toBe(200);
    expect(git(join(scratch, 'served', 'widgets.git'), 'rev-parse', `refs/heads/autocode/${hijacked.id}`)).toBe(clean.json.commit);
    expect(git(elsewhere, 'branch', '--list', `autocode/${hijacked.id}`)).toBe('');
    expect(existsSync(leak)).toBe(false);
    git(workspaceGit, 'config', '--unset', 'credential.helper');
    git(workspaceGit, 'config', '--unset', `url.${pathToFileURL(elsewhere).href}.pushInsteadOf`);

    // A wrong token: 502 with git's message, the token blanked out.
    expect((await api('PUT', '/api/v1/workspaces/served/credentials', alice, { kind: 'token', token: 'wrong-token-0123456789', username: USERNAME })).status).toBe(200);
    const wrong = await api('POST', `/api/v1/runs/${early.id}/push`, alice);
    expect([wrong.status, wrong.json.code], wrong.text).toEqual([502, 'push_failed']);
    expect(wrong.json.detail).toMatch(/Authentication failed|401|could not read/i);
    expect(wrong.text).not.toContain('wrong-token-0123456789');

    // Deleted: pushes go unauthenticated again.
    expect((await api('DELETE', '/api/v1/workspaces/served/credentials', alice)).status).toBe(204);
    expect((await api('POST', `/api/v1/runs/${early.id}/push`, alice)).json.code).toBe('push_failed');
    expect((await api('DELETE', '/api/v1/workspaces/nowhere/credentials', alice)).json.code).toBe('workspace_not_found');
  });

  it('opens a GitHub pull request: the forge gets the token, the title and a summary, the run records it, webhooks hear of it', async () => {
    const hook = await api('POST', '/api/v1/webhooks', alice, { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, events: ['run.pull_request_opened'] });
    expect(hook.status, hook.text).toBe(201);
    expect((await api('PUT', '/api/v1/workspaces/served/credentials', alice, { kind: 'token', token: TOKEN, username: USERNAME })).status).toBe(200);
    const run = await finishedRun({ agent: 'dumper', prompt: '# Add a changelog\n\nList what changed in CHANGES.md.', workspace: 'served' });
    const before = github.requests.length;

    const opened = await api('POST', `/api/v1/runs/${run.id}/pull-request`, alice, { draft: true });
    expect(opened.status, opened.text).toBe(201);
    expect(opened.json).toEqual({ url: expect.stringMatching(/^https:\/\/github\.example\.com\/pull\/\d+$/), number: expect.any(Number), branch: `autocode/${run.id}`, base: 'main', draft: true, openedAt: expect.any(String) });
    // Pushed first.
    expect(git(join(scratch, 'served', 'widgets.git'), 'rev-parse', '--verify', `refs/heads/autocode/${run.id}`)).toMatch(/^[0-9a-f]{40}$/);

    const calls = github.requests.slice(before);
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call!.method).toBe('POST');
    expect(call!.path).toBe('/api/v3/repos/acme/widgets/pulls');
    expect(call!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(call!.headers.accept).toBe('application/vnd.github+json');
    expect(call!.body).toMatchObject({ title: 'Add a changelog', head: `autocode/${run.id}`, base: 'main', draft: true });
    expect(call!.body.body).toContain('> List what changed in CHANGES.md.');
    expect(call!.body.body).toContain('Agent: `dumper`');
    expect(call!.body.body).toContain(`(https://autocode.example.com/api/v1/runs/${run.id})`);

    const recorded = await api('GET', `/api/v1/runs/${run.id}`, alice);
    expect(recorded.json.pullRequest).toEqual(opened.json);
    expect(recorded.json.pullRequestError).toBeNull();
    const delivery = await waitFor(() => deliveries.find((entry) => entry.type === 'run.pull_request_opened' && entry.data.run.id === run.id), 15_000, 'the webhook delivery');
    expect(delivery.data.run.pullRequest).toEqual(opened.json);

    const twice = await api('POST', `/api/v1/runs/${run.id}/pull-request`, alice, {});
    expect([twice.status, twice.json.code], twice.text).toEqual([409, 'pull_request_exists']);
    expect(twice.json.pullRequest.url).toBe(opened.json.url);
    expect(github.requests.length).toBe(before + 1);

    // A refusal by the forge is passed on as 502, with its reason and status.
    const another = await finishedRun({ agent: 'dumper', prompt: 'Another change', workspace: 'served' });
    github.answers.push({ status: 422, body: { message: 'Validation Failed', errors: [{ message: `No commits between main and autocode/${another.id}` }] } });
    const failed = await api('POST', `/api/v1/runs/${another.id}/pull-request`, alice, { title: 'Mine', body: 'Explained.', base: 'main' });
    expect([failed.status, failed.json.code, failed.json.forgeStatus], failed.text).toEqual([502, 'forge_request_failed', 422]);
    expect(failed.json.detail).toContain('No commits between');
    expect(github.requests.at(-1)!.body).toMatchObject({ title: 'Mine', body: 'Explained.', base: 'main', draft: false });
    expect((await api('GET', `/api/v1/runs/${another.id}`, alice)).json.pullRequest).toBeNull();
  });

  it('opens a GitLab merge request on its own when the submit asks for one and the run succeeds with changes', async () => {
    await createWorkspace({ name: 'lab', repoUrl: pathToFileURL(join(scratch, 'origin.git')).href, forge: { kind: 'gitlab', apiUrl: `${gitlab.url}/api/v4`, repository: 'group/sub/widgets' } });
    expect((await api('PUT', '/api/v1/workspaces/lab/credentials', alice, { kind: 'token', token: TOKEN })).status).toBe(200);

    const run = await finishedRun({ agent: 'writer', prompt: writer('lab.txt', 'lab\n'), workspace: 'lab', pullRequest: { open: true, draft: true, base: 'main' } });
    const recorded = await waitFor(async () => {
      const current = await api('GET', `/api/v1/runs/${run.id}`, alice);
      return current.json.pullRequest ?? current.json.pullRequestError ?? undefined;
    }, 20_000, 'the merge request');
    expect(recorded).toEqual({ url: expect.stringMatching(/^https:\/\/gitlab\.example\.com\/merge_requests\/\d+$/), number: 1, branch: `autocode/${run.id}`, base: 'main', draft: true, openedAt: expect.any(String) });
    expect(gitlab.requests).toHaveLength(1);
    const [call] = gitlab.requests;
    expect(call!.method).toBe('POST');
    expect(call!.path).toBe('/api/v4/projects/group%2Fsub%2Fwidgets/merge_requests');
    expect(call!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(call!.body).toMatchObject({ source_branch: `autocode/${run.id}`, target_branch: 'main', title: `Draft: ${writer('lab.txt', 'lab\n')}` });
    expect(call!.body.description).toContain(`https://autocode.example.com/api/v1/runs/${run.id}`);
    expect(git(join(scratch, 'origin.git'), 'rev-parse', '--verify', `refs/heads/autocode/${run.id}`)).toMatch(/^[0-9a-f]{40}$/);

    // A run that changed nothing opens none; a failing forge is recorded on the run.
    const unchanged = await finishedRun({ agent: 'fast', prompt: 'nothing', workspace: 'lab', pullRequest: { open: true } });
    gitlab.answers.push({ status: 403, body: { message: '403 Forbidden' } });
    const refused = await finishedRun({ agent: 'writer', prompt: writer('refused.txt', 'x'), workspace: 'lab', pullRequest: { open: true } });
    const error = await waitFor(async () => (await api('GET', `/api/v1/runs/${refused.id}`, alice)).json.pullRequestError ?? undefined, 20_000, 'the recorded error');
    expect(error).toEqual({ code: 'forge_request_failed', message: expect.stringContaining('403 Forbidden') });
    expect((await api('GET', `/api/v1/runs/${unchanged.id}`, alice)).json).toMatchObject({ pullRequest: null, pullRequestError: null });
    expect(gitlab.requests).toHaveLength(2);

    const noWorkspace = await api('POST', '/api/v1/runs', alice, { agent: 'fast', prompt: 'x', pullRequest: { open: true } });
    expect([noWorkspace.status, noWorkspace.json.code]).toEqual([400, 'validation_failed']);
    const notOpen = await api('POST', '/api/v1/runs', alice, { agent: 'fast', prompt: 'x', workspace: 'lab', pullRequest: { open: false } });
    expect([notOpen.status, notOpen.json.code]).toEqual([400, 'validation_failed']);
  });

  it('refuses a forge whose API URL carries credentials or is not http(s), and a GitHub repository that is not owner/repo', async () => {
    const repoUrl = pathToFileURL(join(scratch, 'origin.git')).href;
    for (const forge of [
      { kind: 'github', apiUrl: 'https://user:pw@api.github.com', repository: 'a/b' },
      { kind: 'github', apiUrl: 'ftp://example.com', repository: 'a/b' },
      { kind: 'github', repository: 'a/b/c' },
      { kind: 'bitbucket', repository: 'a/b' },
    ]) {
      const response = await api('POST', '/api/v1/workspaces', alice, { name: 'bad-forge', repoUrl, forge });
      expect([response.status, response.json.code], JSON.stringify(forge)).toEqual([400, 'validation_failed']);
    }
    const defaults = await createWorkspace({ name: 'hub', repoUrl, forge: { kind: 'github', repository: 'acme/widgets' } });
    expect(defaults.forge).toEqual({ kind: 'github', apiUrl: 'https://api.github.com', repository: 'acme/widgets' });
  });

  it('from the CLI: `runs push`, `runs pr` and `run --pr`', async () => {
    const home = mkdtempSync(join(tmpdir(), 'autocode-forge-home-'));
    try {
      const env = clientEnv(home, { url: server.url, token: alice });
      const run = await finishedRun({ agent: 'writer', prompt: writer('cli.txt', 'cli\n'), workspace: 'lab' });
      const pushed = await autocode(env, ['runs', 'push', run.id]);
      expect(pushed.status, pushed.stderr + pushed.stdout).toBe(0);
      expect(pushed.stdout).toMatch(new RegExp(`^pushed autocode/${run.id} \\([0-9a-f]{12}\\) to file://`));

      const before = gitlab.requests.length;
      const opened = await autocode(env, ['runs', 'pr', run.id, '--title', 'From the CLI', '--body', '-', '--base', 'main', '--draft', '--json'], { input: 'Made by hand.\n' });
      expect(opened.status, opened.stderr).toBe(0);
      expect(JSON.parse(opened.stdout)).toMatchObject({ number: expect.any(Number), branch: `autocode/${run.id}`, base: 'main', draft: true });
      expect(gitlab.requests[before]!.body).toMatchObject({ title: 'Draft: From the CLI', description: 'Made by hand.\n', target_branch: 'main' });
      const again = await autocode(env, ['runs', 'pr', run.id]);
      expect(again.status).toBe(1);
      expect(again.stderr).toContain('pull_request_exists');
      const shown = await autocode(env, ['runs', 'show', run.id]);
      expect(shown.stdout).toMatch(/pull req\.: *https:\/\/gitlab\.example\.com\/merge_requests\/\d+ \(draft\)/);

      const submitted = await autocode(env, ['run', '--agent', 'writer', '--workspace', 'lab', '--pr', '--pr-base', 'main', writer('cli-pr.txt', 'x')], { timeoutMs: 90_000 });
      expect(submitted.status, submitted.stderr).toBe(0);
      expect(submitted.stderr).toMatch(/pull request https:\/\/gitlab\.example\.com\/merge_requests\/\d+/);

      gitlab.answers.push({ status: 401, body: { message: '401 Unauthorized' } });
      const refused = await autocode(env, ['run', '--agent', 'writer', '--workspace', 'lab', '--pr', writer('cli-refused.txt', 'x')], { timeoutMs: 90_000 });
      expect(refused.status, refused.stderr).toBe(1);
      expect(refused.stderr).toContain('no pull request: GitLab refused the merge request (HTTP 401): 401 Unauthorized (forge_request_failed)');

      const usage = await autocode(env, ['run', '--pr', 'no workspace']);
      expect(usage.status).toBe(2);
      expect(usage.stderr).toContain('--pr needs --workspace');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('opens at the next start a pull request its run asked for when the server stopped before opening it', async () => {
    const run = await finishedRun({ agent: 'writer', prompt: writer('resumed.txt', 'x'), workspace: 'lab' });
    // As a node that stopped between the run's end and the forge's answer leaves it.
    await server.app.get(DataSource).query(`UPDATE runs SET pull_request = '{"requested":{"base":"main"}}' WHERE id = '${run.id}'`);
    const before = gitlab.requests.length;
    await server.close();
    server = await start(server.database);
    alice = server.token('alice');
    const opened = await waitFor(async () => (await api('GET', `/api/v1/runs/${run.id}`, alice)).json.pullRequest ?? undefined, 20_000, 'the resumed pull request');
    expect(opened).toMatchObject({ branch: `autocode/${run.id}`, base: 'main' });
    expect(gitlab.requests.slice(before).map((request) => request.body.source_branch)).toEqual([`autocode/${run.id}`]);
  });

  it('keeps the generated secrets key in DATA_DIR with mode 0600', () => {
    const key = join(server.config.dataDir, 'secrets.key');
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(readFileSync(key, 'utf8').trim().length).toBeGreaterThanOrEqual(32);
  });
});
