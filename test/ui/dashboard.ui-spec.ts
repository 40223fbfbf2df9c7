import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { SessionsService } from '../../src/auth/sessions.service.js';
import { expect } from '../jest/expect.js';
import { disposeTestServer, FIXTURE_AGENTS, fixtureProfile, startTestServer, waitForStatus, type TestServer } from '../helpers/test-server.js';
import { launchBrowser, openPage, seriousViolations, signInWithToken, type BrowserGlobals, type PageProblems } from './browser.js';

// The dashboard in Debian's Chromium against a real server running fixture agents: what a person
// does with it, its accessibility (axe-core) in both themes, at 375 px, and its budgets (printed).

const AGENTS = {
  ...FIXTURE_AGENTS,
  ticker: fixtureProfile('ticker.mjs', ['40', '15'], { description: 'prints 40 lines over a few seconds, some in colour' }),
  writer: { ...FIXTURE_AGENTS.writer, description: 'writes the file its JSON prompt names' },
  sleeper: { ...FIXTURE_AGENTS.sleeper, description: 'sleeps for a minute' },
  flood: fixtureProfile('ticker.mjs', ['60000', '2000'], { description: 'prints 2,000 lines a second for 30 seconds' }),
  big: fixtureProfile('lines.mjs', ['100000'], { description: 'prints 100,000 lines at once' }),
};

/** Where the screenshots go when `UI_SCREENSHOT_DIR` is set (`docs/screenshots` for the README's). */
const SCREENSHOTS = process.env.UI_SCREENSHOT_DIR;

function expectNoProblems(problems: PageProblems): void {
  expect(problems.errors, 'errors in the page').toEqual([]);
}

describe('the dashboard in a browser', () => {
  let server: TestServer;
  let browser: Browser;
  const runsOf: Record<string, string[]> = {};

  beforeAll(async () => {
    server = await startTestServer({ agents: AGENTS, env: { MAX_CONCURRENT_AGENTS: '8' } });
    browser = await launchBrowser();
    const created = await server.request('POST', '/api/v1/workspaces', { token: server.token('alice'), body: { name: 'ui' } });
    expect(created.status, created.text).toBe(201);
  });
  afterAll(async () => {
    await browser?.close();
    if (server) await disposeTestServer(server);
  });

  /** Submits a run through the New run form; returns its id once the run page shows it. */
  async function submitRun(page: Page, agent: string, prompt: string, options: { workspace?: string } = {}): Promise<string> {
    if (!page.url().endsWith('/')) await page.getByRole('link', { name: 'Runs' }).click();
    await page.getByText('New run', { exact: true }).click();
    await page.getByLabel('Agent', { exact: true }).selectOption(agent);
    if (options.workspace) await page.getByLabel('Workspace').selectOption(options.workspace);
    await page.getByLabel('Prompt', { exact: true }).fill(prompt);
    await page.getByRole('button', { name: 'Submit run' }).click();
    await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
    return page.url().split('/').pop()!;
  }

  it('signs in with the Token field, keeps the session out of page scripts, and signs out on the server', async () => {
    const { context, page, problems } = await openPage(browser);
    await page.goto(server.url + '/');
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByLabel('Token').fill('not a token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/invalid/);
    await signInWithToken(page, server.url, server.token('alice'));
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.cookie)).not.toContain('autocode_session');
    const cookies = await context.cookies();
    expect(cookies.find((cookie) => cookie.name === 'autocode_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    // The old cookie, put back, no longer signs in: the session ended on the server.
    await context.addCookies(cookies);
    await page.reload();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expectNoProblems(problems);
    await context.close();
  });

  it('submits a run and shows its log arriving live, in colour, until it succeeds', async () => {
    const { context, page, problems } = await openPage(browser);
    await signInWithToken(page, server.url, server.token('alice'));
    await page.getByText('New run', { exact: true }).click();
    await page.getByLabel('Agent', { exact: true }).selectOption('ticker');
    await expect(page.locator('#run-agent-description').textContent()).resolves.toContain('prints 40 lines');
    await page.getByText('New run', { exact: true }).click();
    const id = await submitRun(page, 'ticker', 'count for the dashboard');
    (runsOf.alice ??= []).push(id);
    const log = page.getByRole('log', { name: 'Log' });
    // Lines show while the run is still running: they come live, not after the end.
    await log.getByText('tick 3', { exact: true }).waitFor();
    await expect(page.locator('h1 .badge').textContent()).resolves.toBe('running');
    await page.locator('h1 .badge', { hasText: 'succeeded' }).waitFor({ timeout: 20_000 });
    await log.getByText('tick 40', { exact: true }).waitFor();
    expect(await log.locator('.ansi-fg-1, .ansi-fg-2, .ansi-fg-3, .ansi-fg-4, .ansi-fg-5, .ansi-fg-6').count()).toBeGreaterThan(0);
    await expect(log.textContent()).resolves.not.toContain('\x1b');
    await page.getByRole('heading', { name: 'Events' }).waitFor();
    await page.locator('.timeline-status', { hasText: 'succeeded' }).waitFor();
    // The table shows the run, with its status, without a reload.
    await page.getByRole('link', { name: 'Runs' }).click();
    const row = page.getByRole('row', { name: /count for the dashboard/ });
    await row.getByText('succeeded').waitFor();
    await expect(page.getByRole('link', { name: 'Download log' }).count()).resolves.toBe(0);
    await page.getByRole('link', { name: 'count for the dashboard' }).click();
    await expect(page.getByRole('link', { name: 'Download log' }).getAttribute('href')).resolves.toBe(`/api/v1/runs/${id}/logs`);
    const download = await page.evaluate(async (href) => (await fetch(href)).text(), `/api/v1/runs/${id}/logs`);
    expect(download).toContain('tick 40');
    // The search finds it by a word of its prompt, the status filter keeps it out of "failed".
    await page.getByRole('link', { name: 'Runs' }).click();
    await page.getByLabel('Search prompts').fill('DASHBOARD');
    await page.getByRole('row', { name: /count for the dashboard/ }).waitFor();
    await page.getByLabel('Status').selectOption('failed');
    await page.getByText('No runs match these filters.').waitFor();
    expectNoProblems(problems);
    await context.close();
  });

  it('updates the statuses in the runs table without a reload, and returns to sign-in when the session ends', async () => {
    const { context, page, problems } = await openPage(browser);
    await signInWithToken(page, server.url, server.token('alice'));
    const submitted = await server.request('POST', '/api/v1/runs', { token: server.token('alice'), body: { agent: 'ticker', prompt: 'watched from the table' } });
    expect(submitted.status).toBe(202);
    (runsOf.alice ??= []).push(submitted.json.id);
    const row = page.getByRole('row', { name: /watched from the table/ });
    await row.getByText('running').waitFor();
    await row.getByText('succeeded').waitFor({ timeout: 20_000 });
    // The session ends on the server (as a sign-out in another tab would end it): the next request answers 401.
    const cookie = (await context.cookies()).find((candidate) => candidate.name === 'autocode_session')!;
    await server.app.get(SessionsService).end(cookie.value);
    await page.getByRole('button', { name: 'Sign in' }).waitFor({ timeout: 10_000 });
    expectNoProblems(problems);
    await context.close();
  });

  it('cancels a long run', async () => {
    const { context, page, problems } = await openPage(browser);
    await signInWithToken(page, server.url, server.token('alice'));
    const id = await submitRun(page, 'sleeper', 'sleep until cancelled');
    (runsOf.alice ??= []).push(id);
    await page.locator('h1 .badge', { hasText: 'running' }).waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.locator('h1 .badge', { hasText: 'cancelled' }).waitFor({ timeout: 15_000 });
    await expect(page.getByRole('button', { name: 'Cancel' }).count()).resolves.toBe(0);
    expect((await waitForStatus(server, server.token('alice'), id, ['cancelled'])).status).toBe('cancelled');
    expectNoProblems(problems);
    await context.close();
  });

  it('opens the diff of a run in a workspace: the file list and highlighted code', async () => {
    const { context, page, problems } = await openPage(browser);
    await signInWithToken(page, server.url, server.token('alice'));
    const id = await submitRun(page, 'writer', JSON.stringify({ file: 'hello.ts', content: 'export const greeting: string = "hello";\n' }), { workspace: 'ui' });
    (runsOf.alice ??= []).push(id);
    await page.locator('h1 .badge', { hasText: 'succeeded' }).waitFor({ timeout: 20_000 });
    const files = page.getByRole('navigation', { name: 'Changed files' });
    await files.getByRole('link', { name: 'hello.ts' }).waitFor();
    const file = page.getByRole('region', { name: 'hello.ts' });
    await file.locator('.diff-line.add .hljs-keyword', { hasText: 'export' }).waitFor();
    await expect(page.getByRole('link', { name: 'Download diff' }).getAttribute('href')).resolves.toBe(`/api/v1/runs/${id}/diff`);
    expectNoProblems(problems);
    await context.close();
  });

  it('shows a quota refusal with its detail and a countdown from Retry-After', async () => {
    const admin = server.token('root', { admin: true });
    const limited = await server.request('PUT', '/api/v1/admin/users/quinn/quota', { token: admin, body: { daily: 1 } });
    expect(limited.status).toBe(200);
    const first = await server.request('POST', '/api/v1/runs', { token: server.token('quinn'), body: { agent: 'fast', prompt: 'the one run of the day' } });
    expect(first.status).toBe(202);
    const { context, page, problems } = await openPage(browser);
    await signInWithToken(page, server.url, server.token('quinn'));
    await page.getByText('New run', { exact: true }).click();
    await page.getByLabel('Agent', { exact: true }).selectOption('fast');
    await page.getByLabel('Prompt', { exact: true }).fill('one too many');
    await page.getByRole('button', { name: 'Submit run' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    await expect(alert.textContent()).resolves.toMatch(/daily limit|runs today|limit/i);
    const countdown = page.locator('.countdown');
    const before = Number(/(\d+) s/.exec((await countdown.textContent())!)![1]);
    expect(before).toBeGreaterThan(0);
    await expect(page.getByRole('button', { name: /Submit \(wait \d+ s\)/ }).isDisabled()).resolves.toBe(true);
    await page.waitForTimeout(2100);
    const after = Number(/(\d+) s/.exec((await countdown.textContent())!)![1]);
    expect(after).toBeLessThan(before);
    expectNoProblems(problems);
    await context.close();
  });

  it('signs an admin in with a one-time link; the admin changes a tier and sees the node and queue', async () => {
    const { code } = await server.app.get(SessionsService).createLoginLink({ id: 'root', role: 'admin' }, 3600);
    const { context, page, problems } = await openPage(browser);
    await page.goto(`${server.url}/login#code=${code}`);
    await page.getByRole('heading', { name: 'Runs', level: 1 }).waitFor();
    expect(page.url()).toBe(server.url + '/');
    await page.getByRole('link', { name: 'Users' }).click();
    const form = page.getByRole('form', { name: 'Quota of alice' });
    await form.getByLabel('Tier').selectOption('premium');
    await form.getByLabel('Runs per day').fill('123');
    await form.getByLabel('Dollars per day').fill('2.5');
    await form.getByRole('button', { name: /Save/ }).click();
    await form.getByText('Saved.').waitFor();
    const users = await server.request('GET', '/api/v1/admin/users', { token: server.token('root', { admin: true }) });
    const alice = users.json.items.find((user: { userId: string }) => user.userId === 'alice');
    expect(alice).toMatchObject({ tier: 'premium', daily: { limit: 123 }, budget: { limitUsd: 2.5 }, overrides: { tier: 'premium', daily: 123, dailyBudgetUsd: 2.5 } });
    await page.getByRole('link', { name: 'Nodes and queue' }).click();
    await page.getByRole('heading', { name: /Node test-node/ }).waitFor();
    await page.getByRole('cell', { name: 'database' }).waitFor();
    // The link was used: opening it again signs nobody in.
    const again = await openPage(browser);
    await again.page.goto(`${server.url}/login#code=${code}`);
    await again.page.getByRole('alert').getByText(/already used/).waitFor();
    await again.context.close();
    expectNoProblems(problems);
    await context.close();
  });

  it("shows a second user none of the first user's runs, not even at their address", async () => {
    expect(runsOf.alice?.length).toBeGreaterThan(0);
    const { context, page, problems } = await openPage(browser);
    await signInWithToken(page, server.url, server.token('bob'));
    await page.getByText('No runs yet.').waitFor();
    await page.goto(`${server.url}/runs/${runsOf.alice![0]}`);
    await page.getByRole('heading', { name: 'Run not found' }).waitFor();
    await expect(page.getByRole('log').count()).resolves.toBe(0);
    // A user who is not an admin has no admin pages.
    await expect(page.getByRole('link', { name: 'Users' }).count()).resolves.toBe(0);
    await page.goto(`${server.url}/users`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    expectNoProblems(problems);
    await context.close();
  });

  it('moves by keyboard: a skip link to the content, then the navigation in order', async () => {
    const { context, page, problems } = await openPage(browser);
    await signInWithToken(page, server.url, server.token('alice'));
    await page.keyboard.press('Tab');
    await expect(page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.activeElement?.textContent)).resolves.toBe('Skip to content');
    await page.keyboard.press('Tab');
    await expect(page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.activeElement?.textContent)).resolves.toBe('Runs');
    await page.keyboard.press('Tab');
    await expect(page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.activeElement?.textContent)).resolves.toBe('Workspaces');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Workspaces', level: 1 }).waitFor();
    expectNoProblems(problems);
    await context.close();
  });

  for (const theme of ['light', 'dark'] as const) {
    it(`has no serious or critical accessibility violation on any page (${theme}), and no page wider than 375 px on a phone`, async () => {
      const runId = runsOf.alice!.at(-1)!;
      const pages: [string, string, string][] = [
        ['runs', '/', 'Runs'],
        ['run', `/runs/${runId}`, 'Log'],
        ['workspaces', '/workspaces', 'Workspaces'],
        ['quota', '/quota', 'Quota'],
        ['users', '/users', 'Users'],
        ['nodes', '/nodes', 'Nodes and queue'],
      ];
      for (const width of [1280, 375]) {
        const { context, page, problems } = await openPage(browser, { theme, width });
        // An admin who also owns runs: every page has content.
        const admin = server.app.get(SessionsService);
        const { code } = await admin.createLoginLink({ id: 'alice', role: 'admin' }, 3600);
        await page.goto(`${server.url}/login#code=${code}`);
        await page.getByRole('heading', { name: 'Runs', level: 1 }).waitFor();
        await expect(page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.documentElement.dataset.theme)).resolves.toBe(theme);
        for (const [name, path, heading] of pages) {
          await page.goto(server.url + path);
          await page.getByRole('heading', { name: heading }).first().waitFor();
          if (name === 'run') await page.locator('.diff-line').first().waitFor();
          if (name === 'nodes') await page.getByRole('cell', { name: 'database' }).waitFor();
          expect({ page: path, theme, width, violations: await seriousViolations(page) }).toEqual({ page: path, theme, width, violations: [] });
          if (width === 375) {
            const overflow = await page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.documentElement.scrollWidth);
            expect({ page: path, scrollWidth: overflow }).toEqual({ page: path, scrollWidth: 375 });
          }
          if (SCREENSHOTS && width === 1280) {
            mkdirSync(SCREENSHOTS, { recursive: true });
            await page.screenshot({ path: join(SCREENSHOTS, `${name}-${theme}.png`), fullPage: true });
          }
        }
        if (SCREENSHOTS && width === 1280) {
          const signIn = await openPage(browser, { theme });
          await signIn.page.goto(server.url + '/');
          await signIn.page.getByRole('button', { name: 'Sign in' }).waitFor();
          expect(await seriousViolations(signIn.page)).toEqual([]);
          await signIn.page.screenshot({ path: join(SCREENSHOTS, `sign-in-${theme}.png`) });
          await signIn.context.close();
        }
        expectNoProblems(problems);
        await context.close();
      }
    });
  }
});
