import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { expect } from '../jest/expect.js';
import { startForgeStub, type ForgeStub } from '../helpers/forge-stub.js';
import { disposeTestServer, startTestServer, waitForStatus, type TestServer } from '../helpers/test-server.js';
import { launchBrowser, openPage, signInWithToken } from './browser.js';
import { git } from '../helpers/git.js';

// A run's "Push" and "Open pull request" buttons, in Chromium against a real server that pushes
// to a local bare repository and opens the pull request on a stand-in of GitHub's API.

describe('pull requests from the run page', () => {
  let server: TestServer;
  let browser: Browser;
  let scratch: string;
  let github: ForgeStub;
  let origin: string;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'autocode-ui-pr-'));
    const source = join(scratch, 'source');
    mkdirSync(source);
    git(source, 'init', '--quiet', '--initial-branch=main');
    writeFileSync(join(source, 'README.md'), '# widgets\n');
    git(source, 'add', 'README.md');
    git(source, 'commit', '--quiet', '-m', 'readme');
    origin = join(scratch, 'origin.git');
    git(scratch, 'clone', '--quiet', '--bare', source, origin);
    github = await startForgeStub('github');
    mkdirSync(join(scratch, 'data'), { mode: 0o700 });
    server = await startTestServer({
      dataDir: join(scratch, 'data'),
      env: { WORKSPACE_REPO_SCHEMES: 'file,https', WORKSPACE_FILE_ROOTS: scratch, FORGE_ALLOW_PRIVATE_NETWORKS: 'true' },
    });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    if (server) await disposeTestServer(server);
    await github?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('pushes the branch, then opens the pull request and links it', async () => {
    const token = server.token('alice');
    const workspace = await server.request('POST', '/api/v1/workspaces', {
      token,
      body: { name: 'widgets', repoUrl: pathToFileURL(origin).href, forge: { kind: 'github', apiUrl: `${github.url}/api/v3`, repository: 'acme/widgets' } },
    });
    expect(workspace.status, workspace.text).toBe(201);
    expect((await server.request('PUT', '/api/v1/workspaces/widgets/credentials', { token, body: { kind: 'token', token: 'forge-token-for-ui' } })).status).toBe(200);
    const submitted = await server.request('POST', '/api/v1/runs', { token, body: { agent: 'writer', workspace: 'widgets', prompt: JSON.stringify({ file: 'CHANGES.md', content: 'more widgets\n' }) } });
    await waitForStatus(server, token, submitted.json.id, ['succeeded']);

    const { context, page } = await openPage(browser);
    await signInWithToken(page, server.url, token);
    await page.goto(`${server.url}/runs/${submitted.json.id}`);
    await page.getByText('CHANGES.md', { exact: false }).first().waitFor();

    await page.getByRole('button', { name: 'Push' }).click();
    await page.getByRole('status').filter({ hasText: `Pushed autocode/${submitted.json.id}` }).waitFor();
    const branches = spawnSync('git', ['branch', '--list', `autocode/${submitted.json.id}`], { cwd: origin, encoding: 'utf8' }).stdout;
    expect(branches).toContain(`autocode/${submitted.json.id}`);

    await page.getByRole('button', { name: 'Open pull request' }).click();
    const link = page.getByRole('link', { name: 'Pull request #1' });
    await link.waitFor();
    expect(await link.getAttribute('href')).toBe('https://github.example.com/pull/1');
    expect(github.requests).toHaveLength(1);
    expect(github.requests[0]).toMatchObject({ method: 'POST', path: '/api/v3/repos/acme/widgets/pulls', headers: { authorization: 'Bearer forge-token-for-ui' } });
    expect(github.requests[0]!.body).toMatchObject({ head: `autocode/${submitted.json.id}`, base: 'main' });
    // The run records it: a reload shows the link, not the buttons.
    await page.reload();
    await link.waitFor();
    expect(await page.getByRole('button', { name: 'Open pull request' }).count()).toBe(0);
    await context.close();
  });

  it('shows why a pull request cannot be opened', async () => {
    const token = server.token('bob');
    expect((await server.request('POST', '/api/v1/workspaces', { token, body: { name: 'plain', repoUrl: pathToFileURL(origin).href } })).status).toBe(201);
    const submitted = await server.request('POST', '/api/v1/runs', { token, body: { agent: 'writer', workspace: 'plain', prompt: JSON.stringify({ file: 'x.txt', content: 'x\n' }) } });
    await waitForStatus(server, token, submitted.json.id, ['succeeded']);
    const { context, page } = await openPage(browser);
    await signInWithToken(page, server.url, token);
    await page.goto(`${server.url}/runs/${submitted.json.id}`);
    await page.getByRole('button', { name: 'Open pull request' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/forge/i);
    await context.close();
  });
});
