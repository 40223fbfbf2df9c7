import { spawnSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { disposeTestServer, startTestServer, waitFor, waitForStatus, type TestResponse, type TestServer } from './helpers/test-server.js';
import { git } from './helpers/git.js';

// Named workspaces, specs, worktrees and diffs, end to end: real git, real HTTP, real agents
// (SQLite here; PostgreSQL when the services suite runs this file).

const AUTHOR = 'Auto Code Server <autocode@localhost>';

if (spawnSync('git', ['--version']).status !== 0) throw new Error('these tests need git on PATH');

/** A repository to clone: README.md on main, FEATURE.md on branch `feature`, tag v1 on the first commit. */
function makeSourceRepo(dir: string): void {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '--quiet', '--initial-branch=main');
  writeFileSync(join(dir, 'README.md'), '# source\n');
  git(dir, 'add', 'README.md');
  git(dir, 'commit', '--quiet', '-m', 'readme');
  git(dir, 'tag', 'v1');
  git(dir, 'checkout', '--quiet', '-b', 'feature');
  writeFileSync(join(dir, 'FEATURE.md'), 'feature\n');
  git(dir, 'add', 'FEATURE.md');
  git(dir, 'commit', '--quiet', '-m', 'feature');
  git(dir, 'checkout', '--quiet', 'main');
}

type Event = { seq: number; type: string; data: Record<string, unknown> };

describe('workspaces', () => {
  let server: TestServer;
  let alice: string;
  let bob: string;
  let scratch: string;
  let elsewhere: string;
  let source: string;
  let sourceUrl: string;

  beforeAll(async () => {
    // `scratch` is the one directory file:// clones may come from; the data directory inside it stays refused.
    scratch = mkdtempSync(join(tmpdir(), 'autocode-ws-src-'));
    elsewhere = mkdtempSync(join(tmpdir(), 'autocode-ws-elsewhere-'));
    source = join(scratch, 'source');
    makeSourceRepo(source);
    sourceUrl = pathToFileURL(source).href;
    mkdirSync(join(scratch, 'data'), { mode: 0o700 });
    server = await startTestServer({ dataDir: join(scratch, 'data'), env: { WORKSPACE_REPO_SCHEMES: 'file,https', WORKSPACE_FILE_ROOTS: scratch } });
    alice = server.token('alice');
    bob = server.token('bob');
  });
  afterAll(async () => {
    if (server) await disposeTestServer(server);
    rmSync(scratch, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  });

  const api = (method: string, path: string, token: string, body?: unknown): Promise<TestResponse> => server.request(method, path, { token, body });
  const userRoot = (user: string): string => join(server.config.dataDir, 'users', user);
  const workspaceDir = (user: string, name: string): string => join(userRoot(user), 'workspaces', name);
  const runDir = (user: string, runId: string): string => join(userRoot(user), 'runs', runId);

  async function createWorkspace(body: Record<string, unknown>, token = alice): Promise<TestResponse['json']> {
    const response = await api('POST', '/api/v1/workspaces', token, body);
    expect(response.status, response.text).toBe(201);
    return response.json;
  }

  async function submit(body: Record<string, unknown>, token = alice): Promise<string> {
    const response = await api('POST', '/api/v1/runs', token, body);
    expect(response.status, response.text).toBe(202);
    return response.json.id as string;
  }

  async function stdoutJson(runId: string, token = alice): Promise<Record<string, unknown>> {
    const response = await api('GET', `/api/v1/runs/${runId}/events?limit=1000`, token);
    const line = (response.json.items as Event[]).find((event) => event.type === 'stdout')?.data.line;
    expect(typeof line, JSON.stringify(response.json.items)).toBe('string');
    return JSON.parse(line as string);
  }

  const writer = (file: string, content: string, sleep = 0): string => JSON.stringify({ file, content, sleep });

  it('creates an empty workspace: a git repository with one initial commit by the server', async () => {
    const created = await createWorkspace({ name: 'empty-1' });
    expect(created).toMatchObject({ name: 'empty-1', repoUrl: null, ref: null, branch: 'main' });
    expect(created.head).toMatch(/^[0-9a-f]{40}$/);
    expect(Date.parse(created.createdAt)).not.toBeNaN();

    const dir = workspaceDir('alice', 'empty-1');
    expect(git(dir, 'log', '--format=%an <%ae>|%cn <%ce>|%s')).toBe(`${AUTHOR}|${AUTHOR}|Initial commit`);
    expect(git(dir, 'rev-parse', 'HEAD')).toBe(created.head);

    const duplicate = await api('POST', '/api/v1/workspaces', alice, { name: 'empty-1' });
    expect(duplicate.status).toBe(409);
    expect(duplicate.json.code).toBe('workspace_exists');

    const raced = await Promise.all([1, 2, 3].map(() => api('POST', '/api/v1/workspaces', alice, { name: 'raced', repoUrl: sourceUrl })));
    expect(raced.map((response) => response.status).sort()).toEqual([201, 409, 409]);

    const got = await api('GET', '/api/v1/workspaces/empty-1', alice);
    expect(got.status).toBe(200);
    expect(got.json).toEqual(created);

    const list = await api('GET', '/api/v1/workspaces', alice);
    expect(list.status).toBe(200);
    expect(list.json.items.map((w: { name: string }) => w.name)).toContain('empty-1');
    expect(list.json).toHaveProperty('nextCursor');
  });

  it('clones a file:// repository, and checks out a branch or tag when asked', async () => {
    const plain = await createWorkspace({ name: 'cloned', repoUrl: sourceUrl });
    expect(plain).toMatchObject({ repoUrl: sourceUrl, ref: null, branch: 'main', head: git(source, 'rev-parse', 'main') });
    expect(readFileSync(join(workspaceDir('alice', 'cloned'), 'README.md'), 'utf8')).toBe('# source\n');
    expect(existsSync(join(workspaceDir('alice', 'cloned'), 'FEATURE.md'))).toBe(false);

    const feature = await createWorkspace({ name: 'cloned-feature', repoUrl: sourceUrl, ref: 'feature' });
    expect(feature).toMatchObject({ ref: 'feature', branch: 'feature', head: git(source, 'rev-parse', 'feature') });
    expect(existsSync(join(workspaceDir('alice', 'cloned-feature'), 'FEATURE.md'))).toBe(true);

    const tagged = await createWorkspace({ name: 'cloned-tag', repoUrl: sourceUrl, ref: 'v1' });
    expect(tagged).toMatchObject({ ref: 'v1', branch: null, head: git(source, 'rev-parse', 'v1^{commit}') });
  });

  it("answers clone_failed with git's message when the clone or the checkout fails, and leaves nothing behind", async () => {
    const notRepo = join(scratch, 'not-a-repo');
    mkdirSync(notRepo);
    const failures = [
      { name: 'bad-1', repoUrl: pathToFileURL(notRepo).href },
      { name: 'bad-2', repoUrl: pathToFileURL(join(scratch, 'missing')).href },
      { name: 'bad-3', repoUrl: sourceUrl, ref: 'no-such-branch' },
    ];
    for (const body of failures) {
      const response = await api('POST', '/api/v1/workspaces', alice, body);
      expect(response.status, response.text).toBe(422);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(response.json.code).toBe('clone_failed');
      expect(response.json.detail).not.toMatch(/\n\s+at /);
      expect(response.json).not.toHaveProperty('stack');
      expect((await api('GET', `/api/v1/workspaces/${body.name}`, alice)).status).toBe(404);
    }
    expect((await api('POST', '/api/v1/workspaces', alice, failures[0])).json.detail).toMatch(/not appear to be a git repository|not a git repository/i);
    expect((await api('POST', '/api/v1/workspaces', alice, failures[2])).json.detail).toMatch(/no-such-branch/);
    expect(readdirSync(join(userRoot('alice'), 'workspaces')).filter((name) => name.startsWith('.') || name.startsWith('bad-'))).toEqual([]);
  });

  it('keeps credentials in a repository URL out of answers, the database and the clone', async () => {
    // Nothing listens on port 1: the clone fails at once, with git's message.
    const response = await api('POST', '/api/v1/workspaces', alice, { name: 'private', repoUrl: 'https://user:s3cr3t-t0ken@127.0.0.1:1/repo.git' });
    expect(response.status, response.text).toBe(422);
    expect(response.json.code).toBe('clone_failed');
    expect(response.text).not.toContain('s3cr3t-t0ken');
    expect(response.json.repoUrl).toBe('https://127.0.0.1:1/repo.git');
  });

  it('refuses repository URLs of schemes that are not allowed, option-like URLs, and file URLs into the data directory', async () => {
    const marker = join(scratch, 'pwned');
    const refused = [
      'ssh://example.invalid/repo.git',
      'http://example.invalid/repo.git',
      'git://example.invalid/repo.git',
      `ext::sh -c touch% ${marker}`,
      `ext::sh -c "touch ${marker}"`,
      `-uhelp`,
      `--upload-pack=touch ${marker}`,
      `-c core.sshCommand=touch ${marker} ssh://x/y`,
      'example.com:repo.git',
      'git@example.com:repo.git',
      source,
      `fd::0`,
      pathToFileURL(workspaceDir('alice', 'cloned')).href,
      pathToFileURL(server.config.dataDir).href,
    ];
    for (const repoUrl of refused) {
      const response = await api('POST', '/api/v1/workspaces', alice, { name: 'refused', repoUrl });
      expect(response.status, `${repoUrl}: ${response.text}`).toBe(400);
      expect(response.json.code, repoUrl).toBe('repo_url_not_allowed');
    }
    expect(existsSync(marker)).toBe(false);
    expect((await api('GET', '/api/v1/workspaces/refused', alice)).status).toBe(404);

    const refWithOption = await api('POST', '/api/v1/workspaces', alice, { name: 'refused', repoUrl: sourceUrl, ref: '--orphan=x' });
    expect(refWithOption.status).toBe(400);
    expect(refWithOption.json.code).toBe('validation_failed');
  });

  it('clones file:// URLs only from inside WORKSPACE_FILE_ROOTS: not outside, not through a symlink, `..` or a `.git` file leading out', async () => {
    const other = join(elsewhere, 'other-project');
    makeSourceRepo(other);
    symlinkSync(other, join(scratch, 'escape'));
    // A repository inside the root whose `.git` file names one outside it.
    mkdirSync(join(scratch, 'gitfile'));
    writeFileSync(join(scratch, 'gitfile', '.git'), `gitdir: ${join(other, '.git')}\n`);
    const outside = basename(elsewhere);
    const refused = [
      pathToFileURL(other).href,
      pathToFileURL(join(scratch, 'escape')).href,
      `${pathToFileURL(scratch).href}/../${outside}/other-project`,
      `${pathToFileURL(scratch).href}/%2e%2e/${outside}/other-project`,
      `${pathToFileURL(source).href}/../../${outside}/other-project`,
      pathToFileURL(join(scratch, 'gitfile')).href,
      // Outside the roots, whether a path exists is not told.
      pathToFileURL(join(elsewhere, 'missing')).href,
      'file:///etc',
    ];
    for (const repoUrl of refused) {
      const response = await api('POST', '/api/v1/workspaces', alice, { name: 'outside', repoUrl });
      expect(response.status, `${repoUrl}: ${response.text}`).toBe(400);
      expect(response.json.code, repoUrl).toBe('repo_url_not_allowed');
      expect(response.json.detail).toContain('WORKSPACE_FILE_ROOTS');
    }
    expect((await api('GET', '/api/v1/workspaces/outside', alice)).status).toBe(404);
    // `..` that stays inside the root is fine.
    const inside = await createWorkspace({ name: 'dotdot', repoUrl: `${pathToFileURL(scratch).href}/data/../source` });
    expect(inside.head).toBe(git(source, 'rev-parse', 'main'));
  });

  it('validates workspace names', async () => {
    for (const name of ['..', '.', '.hidden', 'a/b', '../x', '/etc', 'x'.repeat(65), '', 'a b', '-rf']) {
      const response = await api('POST', '/api/v1/workspaces', alice, { name });
      expect(response.status, name).toBe(400);
      expect(response.json.code, name).toBe('validation_failed');
    }
    expect(existsSync(join(userRoot('alice'), 'x'))).toBe(false);
    expect(existsSync(join(server.config.dataDir, 'etc'))).toBe(false);
  });

  it('numbers specs, commits them, and lists and reads them back', async () => {
    await createWorkspace({ name: 'specs-ws' });
    const first = await api('POST', '/api/v1/workspaces/specs-ws/specs', alice, { title: 'Add login page!', body: 'Users log in with a password.\n' });
    expect(first.status, first.text).toBe(201);
    expect(first.json).toMatchObject({ id: '001-add-login-page', title: 'Add login page!', path: '.auto-claude/specs/001-add-login-page/spec.md' });
    const second = await api('POST', '/api/v1/workspaces/specs-ws/specs', alice, { title: 'Rate-limit the API', body: 'At most 10 per second.' });
    expect(second.json.id).toBe('002-rate-limit-the-api');

    const dir = workspaceDir('alice', 'specs-ws');
    expect(readFileSync(join(dir, '.auto-claude/specs/001-add-login-page/spec.md'), 'utf8')).toBe('# Add login page!\n\nUsers log in with a password.\n');
    expect(git(dir, 'ls-files')).toBe('.auto-claude/specs/001-add-login-page/spec.md\n.auto-claude/specs/002-rate-limit-the-api/spec.md');
    expect(git(dir, 'log', '--format=%an <%ae>|%s').split('\n')).toEqual([`${AUTHOR}|Add spec 002-rate-limit-the-api`, `${AUTHOR}|Add spec 001-add-login-page`, `${AUTHOR}|Initial commit`]);
    expect(git(dir, 'status', '--porcelain')).toBe('');

    const list = await api('GET', '/api/v1/workspaces/specs-ws/specs', alice);
    expect(list.status).toBe(200);
    expect(list.json.items).toEqual([
      { id: '001-add-login-page', title: 'Add login page!', path: '.auto-claude/specs/001-add-login-page/spec.md' },
      { id: '002-rate-limit-the-api', title: 'Rate-limit the API', path: '.auto-claude/specs/002-rate-limit-the-api/spec.md' },
    ]);

    const read = await api('GET', '/api/v1/workspaces/specs-ws/specs/002-rate-limit-the-api', alice);
    expect(read.status).toBe(200);
    expect(read.json).toMatchObject({ id: '002-rate-limit-the-api', title: 'Rate-limit the API', body: 'At most 10 per second.', content: '# Rate-limit the API\n\nAt most 10 per second.' });

    const missing = await api('GET', '/api/v1/workspaces/specs-ws/specs/003-none', alice);
    expect(missing.status).toBe(404);
    expect(missing.json.code).toBe('spec_not_found');
    expect((await api('GET', '/api/v1/workspaces/nope/specs', alice)).json.code).toBe('workspace_not_found');
    const badTitle = await api('POST', '/api/v1/workspaces/specs-ws/specs', alice, { title: 'two\nlines', body: 'x' });
    expect(badTitle.status).toBe(400);
  });

  it('runs an agent in a worktree on branch autocode/<run id> and serves its diff', async () => {
    const workspace = await createWorkspace({ name: 'wt', repoUrl: sourceUrl });
    const id = await submit({ agent: 'writer', workspace: 'wt', prompt: writer('hello.txt', 'hello\n') });
    const run = await waitForStatus(server, alice, id, ['succeeded', 'failed']);
    expect(run).toMatchObject({ status: 'succeeded', workspace: 'wt', baseCommit: workspace.head });

    const seen = await stdoutJson(id);
    expect(seen).toEqual({ cwd: runDir('alice', id), files: ['README.md', 'hello.txt'] });

    const diff = await api('GET', `/api/v1/runs/${id}/diff`, alice);
    expect(diff.status).toBe(200);
    expect(diff.headers.get('content-type')).toMatch(/^text\/x-diff/);
    expect(diff.text).toContain('diff --git a/hello.txt b/hello.txt');
    expect(diff.text).toContain('+hello');
    expect(diff.text).not.toContain('README.md');

    const dir = workspaceDir('alice', 'wt');
    expect(existsSync(join(dir, 'hello.txt'))).toBe(false);
    expect(git(dir, 'rev-parse', 'HEAD')).toBe(workspace.head);
    expect(git(dir, 'log', '-1', '--format=%an <%ae>|%s', `autocode/${id}`)).toBe(`${AUTHOR}|autocode run ${id}`);
    expect(git(dir, 'rev-parse', `autocode/${id}~1`)).toBe(workspace.head);
    expect(git(dir, 'diff', workspace.head, `autocode/${id}`)).toBe(diff.text.trim());
  });

  it('commits nothing when a run changes nothing, and its diff is empty', async () => {
    const id = await submit({ agent: 'lines', workspace: 'wt', prompt: 'change nothing' });
    const run = await waitForStatus(server, alice, id, ['succeeded', 'failed']);
    expect(run.status).toBe('succeeded');
    const diff = await api('GET', `/api/v1/runs/${id}/diff`, alice);
    expect(diff.status).toBe(200);
    expect(diff.text).toBe('');
    expect(git(workspaceDir('alice', 'wt'), 'rev-parse', `autocode/${id}`)).toBe(run.baseCommit);
  });

  it('commits and keeps the diff of a run that ends another way (cancelled)', async () => {
    const id = await submit({ agent: 'writer', workspace: 'wt', prompt: writer('partial.txt', 'half done\n', 30) });
    await waitFor(async () => existsSync(join(runDir('alice', id), 'partial.txt')), 10_000, 'the agent to write its file');
    expect((await api('POST', `/api/v1/runs/${id}/cancel`, alice)).status).toBe(202);
    const run = await waitForStatus(server, alice, id, ['cancelled', 'succeeded', 'failed']);
    expect(run.status).toBe('cancelled');
    const diff = await api('GET', `/api/v1/runs/${id}/diff`, alice);
    expect(diff.status).toBe(200);
    expect(diff.text).toContain('+half done');
  });

  it('keeps two runs on one workspace apart, each in its own worktree with its own diff', async () => {
    await createWorkspace({ name: 'shared', repoUrl: sourceUrl });
    const [a, b] = await Promise.all([
      submit({ agent: 'writer', workspace: 'shared', prompt: writer('a.txt', 'from a\n', 1.5) }),
      submit({ agent: 'writer', workspace: 'shared', prompt: writer('b.txt', 'from b\n', 1.5) }),
    ]);
    await waitForStatus(server, alice, a, ['running', 'succeeded']);
    const busy = await api('DELETE', '/api/v1/workspaces/shared', alice);
    expect(busy.status).toBe(409);
    expect(busy.json.code).toBe('workspace_busy');

    const runA = await waitForStatus(server, alice, a, ['succeeded', 'failed']);
    const runB = await waitForStatus(server, alice, b, ['succeeded', 'failed']);
    expect([runA.status, runB.status]).toEqual(['succeeded', 'succeeded']);
    // They really ran at the same time.
    expect(Date.parse(runA.startedAt)).toBeLessThan(Date.parse(runB.finishedAt));
    expect(Date.parse(runB.startedAt)).toBeLessThan(Date.parse(runA.finishedAt));

    expect((await stdoutJson(a)).files).toEqual(['README.md', 'a.txt']);
    expect((await stdoutJson(b)).files).toEqual(['README.md', 'b.txt']);
    const diffA = (await api('GET', `/api/v1/runs/${a}/diff`, alice)).text;
    const diffB = (await api('GET', `/api/v1/runs/${b}/diff`, alice)).text;
    expect(diffA).toContain('diff --git a/a.txt b/a.txt');
    expect(diffA).not.toContain('b.txt');
    expect(diffB).toContain('diff --git a/b.txt b/b.txt');
    expect(diffB).not.toContain('a.txt');
  });

  it("gives a run with specId the spec's spec.md as its prompt, on stdin, in argv and in AUTOCODE_PROMPT", async () => {
    const spec = (await api('GET', '/api/v1/workspaces/specs-ws/specs/001-add-login-page', alice)).json;
    const id = await submit({ agent: 'echo', workspace: 'specs-ws', specId: '001-add-login-page' });
    const run = await waitForStatus(server, alice, id, ['succeeded', 'failed']);
    expect(run).toMatchObject({ status: 'succeeded', prompt: spec.content, specId: '001-add-login-page', workspace: 'specs-ws' });
    const seen = (await stdoutJson(id)) as { stdin: string; argv: string[]; cwd: string; env: Record<string, string> };
    expect(seen.stdin).toBe(spec.content);
    expect(seen.env.AUTOCODE_PROMPT).toBe(spec.content);
    expect(seen.argv[0]).toBe(`--prompt=${spec.content}`);
    expect(seen.cwd).toBe(runDir('alice', id));

    const both = await api('POST', '/api/v1/runs', alice, { agent: 'echo', workspace: 'specs-ws', specId: '001-add-login-page', prompt: 'also this' });
    expect(both.status).toBe(400);
    expect(both.json.code).toBe('validation_failed');
    const noWorkspace = await api('POST', '/api/v1/runs', alice, { agent: 'echo', specId: '001-add-login-page' });
    expect(noWorkspace.status).toBe(400);
    const noSpec = await api('POST', '/api/v1/runs', alice, { agent: 'echo', workspace: 'specs-ws', specId: '009-nothing' });
    expect(noSpec.status).toBe(404);
    expect(noSpec.json.code).toBe('spec_not_found');
    const noSuchWorkspace = await api('POST', '/api/v1/runs', alice, { agent: 'echo', workspace: 'nowhere', prompt: 'x' });
    expect(noSuchWorkspace.status).toBe(404);
    expect(noSuchWorkspace.json.code).toBe('workspace_not_found');
    const noSuchWorkspaceSpec = await api('POST', '/api/v1/runs', alice, { agent: 'echo', workspace: 'nowhere', specId: '001-add-login-page' });
    expect(noSuchWorkspaceSpec.json.code).toBe('workspace_not_found');
  });

  it('has no diff for a run without a workspace', async () => {
    const id = await submit({ agent: 'lines', prompt: 'plain' });
    await waitForStatus(server, alice, id, ['succeeded', 'failed']);
    const diff = await api('GET', `/api/v1/runs/${id}/diff`, alice);
    expect(diff.status).toBe(404);
    expect(diff.json.code).toBe('diff_not_found');
  });

  /** A request whose path reaches the server byte for byte: fetch would resolve `%2e%2e` and `..` first. */
  function rawRequest(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; text: string }> {
    const url = new URL(server.url);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          method,
          path,
          headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  it('refuses traversal in workspace names and spec ids, and never follows a symlink out of the workspace', async () => {
    const names = ['%2e%2e', '%2E%2E', '..', '..%2Fbob', '..%2F..%2F..%2Fetc', '%2Fetc', '%2Fetc%2Fpasswd', '.%2E', '..%5C..%5Cetc'];
    for (const name of names) {
      for (const [method, path, body] of [
        ['GET', `/api/v1/workspaces/${name}`],
        ['DELETE', `/api/v1/workspaces/${name}`],
        ['GET', `/api/v1/workspaces/${name}/specs`],
        ['POST', `/api/v1/workspaces/${name}/specs`, { title: 'escape', body: 'x' }],
        ['GET', `/api/v1/workspaces/${name}/specs/001-add-login-page`],
      ] as const) {
        const response = await rawRequest(method, path, alice, body);
        expect([400, 404], `${method} ${path}: ${response.text}`).toContain(response.status);
      }
    }
    for (const specId of ['%2e%2e', '..', '..%2F..%2F..%2F..%2Fetc%2Fpasswd', '%2Fetc%2Fpasswd', '..%2F002-rate-limit-the-api', '.%2E%2F.%2E']) {
      const response = await rawRequest('GET', `/api/v1/workspaces/specs-ws/specs/${specId}`, alice);
      expect([400, 404], `${specId}: ${response.text}`).toContain(response.status);
    }
    for (const body of [
      { agent: 'echo', workspace: '../bob', prompt: 'x' },
      { agent: 'echo', workspace: '/etc', prompt: 'x' },
      { agent: 'echo', workspace: 'specs-ws', specId: '../../../../etc/passwd' },
      { agent: 'echo', workspace: 'specs-ws', specId: '..' },
    ]) {
      expect((await api('POST', '/api/v1/runs', alice, body)).status, JSON.stringify(body)).toBe(400);
    }
    // Nothing was written anywhere a traversal would have led.
    expect(existsSync(join(userRoot('alice'), '.auto-claude'))).toBe(false);
    expect(existsSync(join(server.config.dataDir, 'users', '.auto-claude'))).toBe(false);
    expect(existsSync(join(server.config.dataDir, '.auto-claude'))).toBe(false);

    // Symlinks planted in the specs folder (as a cloned repository or an agent could) are not followed.
    const specs = join(workspaceDir('alice', 'specs-ws'), '.auto-claude', 'specs');
    symlinkSync('/etc', join(specs, '050-etc'));
    mkdirSync(join(specs, '051-passwd'));
    symlinkSync('/etc/passwd', join(specs, '051-passwd', 'spec.md'));
    for (const specId of ['050-etc', '051-passwd']) {
      const response = await api('GET', `/api/v1/workspaces/specs-ws/specs/${specId}`, alice);
      expect(response.status, specId).toBe(404);
      expect(response.json.code).toBe('spec_not_found');
      const run = await api('POST', '/api/v1/runs', alice, { agent: 'echo', workspace: 'specs-ws', specId });
      expect(run.status, specId).toBe(404);
    }
    const listed = (await api('GET', '/api/v1/workspaces/specs-ws/specs', alice)).json.items.map((s: { id: string }) => s.id);
    expect(listed).toEqual(['001-add-login-page', '002-rate-limit-the-api']);

    // A whole `.auto-claude` folder that leaks out of the workspace is neither read nor written.
    const outside = join(scratch, 'outside');
    mkdirSync(join(outside, 'specs', '001-outside'), { recursive: true });
    writeFileSync(join(outside, 'specs', '001-outside', 'spec.md'), '# outside\n\nsecret');
    await createWorkspace({ name: 'linked' });
    symlinkSync(outside, join(workspaceDir('alice', 'linked'), '.auto-claude'));
    expect((await api('GET', '/api/v1/workspaces/linked/specs', alice)).json.items).toEqual([]);
    expect((await api('GET', '/api/v1/workspaces/linked/specs/001-outside', alice)).status).toBe(404);
    const write = await api('POST', '/api/v1/workspaces/linked/specs', alice, { title: 'escape', body: 'x' });
    expect(write.status).toBe(400);
    expect(readdirSync(join(outside, 'specs'))).toEqual(['001-outside']);

    // A directory under the workspaces root that no workspace owns, or a symlink there, is not a workspace.
    symlinkSync('/etc', join(userRoot('alice'), 'workspaces', 'etc-link'));
    expect((await api('GET', '/api/v1/workspaces/etc-link', alice)).status).toBe(404);
    expect((await api('GET', '/api/v1/workspaces/etc-link/specs', alice)).status).toBe(404);
  });

  it("keeps users apart: another user's workspace, its specs, runs and diffs answer 404", async () => {
    const aliceRun = (await api('GET', '/api/v1/runs?limit=100', alice)).json.items.find((r: { workspace: string | null }) => r.workspace === 'wt');
    expect(aliceRun).toBeDefined();

    expect((await api('GET', '/api/v1/workspaces', bob)).json.items).toEqual([]);
    for (const [method, path] of [
      ['GET', '/api/v1/workspaces/wt'],
      ['DELETE', '/api/v1/workspaces/wt'],
      ['GET', '/api/v1/workspaces/specs-ws/specs'],
      ['GET', '/api/v1/workspaces/specs-ws/specs/001-add-login-page'],
    ] as const) {
      const response = await api(method, path, bob);
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.json.code).toBe('workspace_not_found');
    }
    const spec = await api('POST', '/api/v1/workspaces/specs-ws/specs', bob, { title: 'intrude', body: 'x' });
    expect(spec.json.code).toBe('workspace_not_found');
    const run = await api('POST', '/api/v1/runs', bob, { agent: 'writer', workspace: 'wt', prompt: writer('x.txt', 'x') });
    expect(run.status).toBe(404);
    expect(run.json.code).toBe('workspace_not_found');
    const specRun = await api('POST', '/api/v1/runs', bob, { agent: 'echo', workspace: 'specs-ws', specId: '001-add-login-page' });
    expect(specRun.json.code).toBe('workspace_not_found');
    const diff = await api('GET', `/api/v1/runs/${aliceRun.id}/diff`, bob);
    expect(diff.status).toBe(404);
    expect(diff.json.code).toBe('run_not_found');
    const clone = await api('POST', '/api/v1/workspaces', bob, { name: 'steal', repoUrl: pathToFileURL(workspaceDir('alice', 'wt')).href });
    expect(clone.status).toBe(400);
    expect(clone.json.code).toBe('repo_url_not_allowed');

    // Names are per user.
    const own = await createWorkspace({ name: 'wt' }, bob);
    expect(own.repoUrl).toBeNull();
    expect(existsSync(join(workspaceDir('bob', 'wt'), 'README.md'))).toBe(false);
  });

  it('deletes a workspace and its directory; its runs keep their diffs', async () => {
    const id = await submit({ agent: 'writer', workspace: 'cloned', prompt: writer('kept.txt', 'kept\n') });
    await waitForStatus(server, alice, id, ['succeeded', 'failed']);
    const removed = await api('DELETE', '/api/v1/workspaces/cloned', alice);
    expect(removed.status, removed.text).toBe(204);
    expect(existsSync(workspaceDir('alice', 'cloned'))).toBe(false);
    expect((await api('GET', '/api/v1/workspaces/cloned', alice)).json.code).toBe('workspace_not_found');
    expect((await api('DELETE', '/api/v1/workspaces/cloned', alice)).status).toBe(404);
    expect((await api('GET', `/api/v1/runs/${id}/diff`, alice)).text).toContain('+kept');
    // The name is free again.
    await createWorkspace({ name: 'cloned' });
  });
});

describe('workspace clone defaults', () => {
  it('refuses file:// URLs altogether by default (https only)', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'autocode-ws-default-'));
    const server = await startTestServer();
    try {
      makeSourceRepo(join(scratch, 'repo'));
      expect(server.config.workspaces.repoSchemes).toEqual(['https']);
      const response = await server.request('POST', '/api/v1/workspaces', { token: server.token('alice'), body: { name: 'local', repoUrl: pathToFileURL(join(scratch, 'repo')).href } });
      expect(response.status, response.text).toBe(400);
      expect(response.json).toMatchObject({ code: 'repo_url_not_allowed', detail: 'the "file" scheme is not allowed on this server; allowed: https' });
    } finally {
      await disposeTestServer(server);
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

describe('worktree retention', () => {
  it('removes worktrees once WORKTREE_RETENTION_HOURS have passed (at boot, then on a sweep); branches and diffs stay', async () => {
    let server = await startTestServer();
    const dataDir = server.dataDir;
    const database = server.database;
    const token = server.token('carol');
    const workspace = join(server.config.dataDir, 'users', 'carol', 'workspaces', 'keep');
    try {
      expect((await server.request('POST', '/api/v1/workspaces', { token, body: { name: 'keep' } })).status).toBe(201);
      const first = (await server.request('POST', '/api/v1/runs', { token, body: { agent: 'writer', workspace: 'keep', prompt: JSON.stringify({ file: 'one.txt', content: '1' }) } })).json.id as string;
      await waitForStatus(server, token, first, ['succeeded', 'failed']);
      const firstDir = join(server.config.dataDir, 'users', 'carol', 'runs', first);
      // Kept for 24 hours by default.
      expect(existsSync(join(firstDir, 'one.txt'))).toBe(true);
      expect(git(workspace, 'worktree', 'list', '--porcelain')).toContain(firstDir);
      await server.close();

      server = await startTestServer({ dataDir, database, env: { WORKTREE_RETENTION_HOURS: '0' } });
      await waitFor(() => !existsSync(firstDir), 10_000, 'the expired worktree to be removed at boot');
      expect(git(workspace, 'worktree', 'list', '--porcelain')).not.toContain(firstDir);
      expect(git(workspace, 'rev-parse', '--verify', '--quiet', `autocode/${first}`)).toMatch(/^[0-9a-f]{40}$/);
      expect((await server.request('GET', `/api/v1/runs/${first}/diff`, { token })).text).toContain('+1');

      // With a retention of 0, a run's worktree is gone by the time it is reported finished.
      const second = (await server.request('POST', '/api/v1/runs', { token, body: { agent: 'writer', workspace: 'keep', prompt: JSON.stringify({ file: 'two.txt', content: '2' }) } })).json.id as string;
      await waitForStatus(server, token, second, ['succeeded', 'failed']);
      expect(existsSync(join(server.config.dataDir, 'users', 'carol', 'runs', second))).toBe(false);
      expect(git(workspace, 'show', `autocode/${second}:two.txt`)).toBe('2');
      expect((await server.request('GET', `/api/v1/runs/${second}/diff`, { token })).text).toContain('+2');
      expect(git(workspace, 'worktree', 'list', '--porcelain').match(/^worktree /gm)).toHaveLength(1);
    } finally {
      await disposeTestServer(server);
    }
  });
});
