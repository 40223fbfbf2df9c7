import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { expect } from '../jest/expect.js';
import { disposeTestServer, startTestServer, waitForStatus, type TestServer } from '../helpers/test-server.js';
import { launchBrowser, openPage, signInWithToken } from './browser.js';
import { git } from '../helpers/git.js';

// Workspaces cloned from a URL, their specs, and the New run form's other fields (spec, timeout,
// metadata, the Idempotency-Key it sends, a refusal's detail), in Chromium against a real server.

describe('workspaces and the New run form in a browser', () => {
  let server: TestServer;
  let browser: Browser;
  let scratch: string;
  let sourceUrl: string;

  beforeAll(async () => {
    // The directory file:// clones may come from, with the data directory inside it (which stays refused).
    scratch = mkdtempSync(join(tmpdir(), 'autocode-ui-src-'));
    const source = join(scratch, 'source');
    mkdirSync(source);
    git(source, 'init', '--quiet', '--initial-branch=main');
    writeFileSync(join(source, 'README.md'), '# source\n');
    git(source, 'add', 'README.md');
    git(source, 'commit', '--quiet', '-m', 'readme');
    sourceUrl = pathToFileURL(source).href;
    mkdirSync(join(scratch, 'data'), { mode: 0o700 });
    server = await startTestServer({ dataDir: join(scratch, 'data'), env: { WORKSPACE_REPO_SCHEMES: 'file,https', WORKSPACE_FILE_ROOTS: scratch } });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    if (server) await disposeTestServer(server);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('creates a workspace from a URL and lists its specs', async () => {
    const { context, page } = await openPage(browser);
    await signInWithToken(page, server.url, server.token('alice'));
    await page.getByRole('link', { name: 'Workspaces' }).click();
    await page.getByText('No workspaces yet.').waitFor();
    await page.getByLabel('Name').fill('repo');
    await page.getByLabel('Repository URL').fill(sourceUrl);
    await page.getByRole('button', { name: 'Create workspace' }).click();
    await page.getByRole('heading', { name: 'repo', level: 2 }).waitFor();
    await page.getByText(sourceUrl, { exact: false }).waitFor();
    await page.getByRole('button', { name: 'Show specs of repo' }).click();
    await page.getByText('No specs in this workspace.').waitFor();
    // A URL the server does not allow: its problem detail is shown.
    await page.getByLabel('Name').fill('elsewhere');
    await page.getByLabel('Repository URL').fill('file:///etc');
    await page.getByRole('button', { name: 'Create workspace' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/WORKSPACE_FILE_ROOTS|not allowed|outside/i);

    const spec = await server.request('POST', '/api/v1/workspaces/repo/specs', { token: server.token('alice'), body: { title: 'Add login', body: 'Add a login page.' } });
    expect(spec.status, spec.text).toBe(201);
    await page.getByRole('button', { name: 'Hide specs of repo' }).click();
    await page.getByRole('button', { name: 'Show specs of repo' }).click();
    await page.getByText(`${spec.json.id}`, { exact: true }).waitFor();
    await page.getByText('— Add login').waitFor();
    await context.close();
  });

  it('submits a run of a spec with a timeout and metadata, under one Idempotency-Key', async () => {
    const { context, page } = await openPage(browser);
    await signInWithToken(page, server.url, server.token('alice'));
    const submits: { key: string | undefined; body: Record<string, unknown> }[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/api/v1/runs')) submits.push({ key: request.headers()['idempotency-key'], body: request.postDataJSON() as Record<string, unknown> });
    });
    await page.getByText('New run', { exact: true }).click();
    await page.getByLabel('Agent', { exact: true }).selectOption('echo');
    await page.getByLabel('Workspace').selectOption('repo');
    const specs = await server.request('GET', '/api/v1/workspaces/repo/specs', { token: server.token('alice') });
    const specId = specs.json.items[0].id as string;
    await page.getByLabel('Spec').selectOption(specId);
    await expect(page.getByLabel('Prompt', { exact: true }).isDisabled()).resolves.toBe(true);
    // Too long for the tier: refused with the problem's detail, and no run made.
    await page.getByLabel('Timeout (seconds)').fill('99999');
    await page.getByRole('button', { name: 'Submit run' }).click();
    const refused = await server.request('POST', '/api/v1/runs', { token: server.token('nobody'), body: { agent: 'echo', prompt: 'x', timeoutSeconds: 99999 } });
    await expect(page.getByRole('alert').textContent()).resolves.toBe(refused.json.detail);
    await page.getByLabel('Timeout (seconds)').fill('120');
    await page.getByLabel('Metadata (JSON)').fill('{"ticket": "UI-1"}');
    await page.getByRole('button', { name: 'Submit run' }).click();
    await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
    const id = page.url().split('/').pop()!;
    const run = await waitForStatus(server, server.token('alice'), id, ['succeeded']);
    expect(run).toMatchObject({ agent: 'echo', workspace: 'repo', specId, timeoutSeconds: 120, metadata: { ticket: 'UI-1' } });
    expect(submits).toHaveLength(2);
    expect(submits[1]!.body).toEqual({ agent: 'echo', specId, workspace: 'repo', timeoutSeconds: 120, metadata: { ticket: 'UI-1' } });
    for (const submit of submits) expect(submit.key).toMatch(/^[0-9a-f-]{36}$/);
    // The form changed between the two: each intended run had its own key.
    expect(submits[0]!.key).not.toBe(submits[1]!.key);
    await context.close();
  });

  it("shows a run's cost, tokens and tool uses", async () => {
    const submitted = await server.request('POST', '/api/v1/runs', { token: server.token('alice'), body: { agent: 'jsonl', prompt: 'fix the parser' } });
    await waitForStatus(server, server.token('alice'), submitted.json.id, ['succeeded']);
    const { context, page } = await openPage(browser);
    await signInWithToken(page, server.url, server.token('alice'));
    await page.goto(`${server.url}/runs/${submitted.json.id}`);
    await page.getByText('$0.0123', { exact: true }).waitFor();
    await page.getByText('1200 / 340', { exact: true }).waitFor();
    await page.locator('.timeline-tool_use', { hasText: 'Read {"path":"src/parser.ts"}' }).waitFor();
    await page.locator('.timeline-result', { hasText: 'Fixed it' }).waitFor();
    await context.close();
  });
});
