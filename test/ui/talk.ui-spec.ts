import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { expect } from '../jest/expect.js';
import { startAnthropicStub, useStubForClaude, type AnthropicStub, type StubTurn } from '../fixtures/anthropic-stub.js';
import { disposeTestServer, FIXTURE_AGENTS, startTestServer, waitFor, waitForStatus, type TestServer } from '../helpers/test-server.js';
import { launchBrowser, openPage, seriousViolations, signInWithToken, type BrowserGlobals, type PageProblems } from './browser.js';

// Talking to a run from its page, in Chromium against a real server: a message into a live claude
// session, a follow-up of a finished run, a profile that takes none, and the approvals panel of a
// claude profile with `approvals` (the real Claude Agent SDK and CLI against the Messages API stand-in).

const SCRIPTS: Record<string, StubTurn[]> = {
  'gate-allow': [{ text: 'Writing it.', tool: 'Bash', input: { command: 'echo approved > allowed.txt', description: 'write a file' } }, { text: 'Wrote allowed.txt.' }],
  'gate-deny': [{ tool: 'Bash', input: { command: 'echo nope > denied.txt', description: 'write a file' } }, { text: 'Understood, I will not.' }],
  'gate-closed': [{ tool: 'Bash', input: { command: 'echo closed > closed.txt', description: 'write a file' } }, { text: 'Fine.' }],
  live: [{ tool: 'Bash', input: { command: 'while [ ! -f go ]; do sleep 0.1; done; echo released', description: 'wait' } }, { text: 'Read your message.' }],
};

const AGENTS = {
  ...FIXTURE_AGENTS,
  resumable: { executor: 'command', command: ['/bin/echo', 'first {prompt}'], resumeCommand: ['/bin/echo', 'again {prompt}'] },
  'claude-test': { executor: 'claude', maxTurns: 5, allowedTools: ['Read', 'Write', 'Edit', 'Bash'] },
  gated: { executor: 'claude', maxTurns: 5, allowedTools: ['Read', 'Write', 'Edit', 'Bash'], approvals: { tools: ['Bash', 'Write'], timeoutSeconds: 300 } },
};

/** Where the screenshots go when `UI_SCREENSHOT_DIR` is set (`docs/screenshots` for the README's). */
const SCREENSHOTS = process.env.UI_SCREENSHOT_DIR;

function expectNoProblems(problems: PageProblems): void {
  expect(problems.errors, 'errors in the page').toEqual([]);
}

describe('talking to a run from its page', () => {
  let stub: AnthropicStub;
  let server: TestServer;
  let browser: Browser;
  let alice: string;
  let restoreEnv: () => void = () => {};

  beforeAll(async () => {
    stub = await startAnthropicStub(SCRIPTS);
    // The server runs in this process: its claude agents reach the stand-in, never Anthropic.
    restoreEnv = useStubForClaude(stub);
    server = await startTestServer({ agents: AGENTS });
    alice = server.token('alice');
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    if (server) await disposeTestServer(server);
    await stub?.close();
    restoreEnv();
  });

  async function submit(body: Record<string, unknown>): Promise<string> {
    const response = await server.request('POST', '/api/v1/runs', { token: alice, body });
    expect(response.status, response.text).toBe(202);
    return response.json.id as string;
  }

  async function openRun(id: string, options: { theme?: 'light' | 'dark'; width?: number } = {}): Promise<{ page: Page; problems: PageProblems; close: () => Promise<void> }> {
    const { context, page, problems } = await openPage(browser, options);
    await signInWithToken(page, server.url, alice);
    await page.goto(`${server.url}/runs/${id}`);
    await page.getByRole('heading', { name: 'Log' }).waitFor();
    return { page, problems, close: () => context.close() };
  }

  /** Waits until the run shows a call waiting for approval. */
  async function pending(id: string): Promise<Record<string, unknown>> {
    return waitFor(
      async () => {
        const run = (await server.request('GET', `/api/v1/runs/${id}`, { token: alice })).json;
        if (run.status !== 'running' && run.status !== 'queued') throw new Error(`run ended ${run.status} without asking: ${JSON.stringify(run.error)}`);
        return run.pendingApproval ?? undefined;
      },
      60_000,
      `a pending approval of run ${id}`,
    );
  }

  it('sends a follow-up to a finished run and moves to the new run, which links back to its parent', async () => {
    const parent = await submit({ agent: 'resumable', prompt: 'one' });
    await waitForStatus(server, alice, parent, ['succeeded']);
    const { page, problems, close } = await openRun(parent);
    await page.getByRole('heading', { name: 'Follow up' }).waitFor();
    await page.getByLabel('Message', { exact: true }).fill('two');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.waitForURL((url) => /\/runs\/[0-9a-f-]{36}$/.test(url.pathname) && !url.pathname.endsWith(parent));
    const child = page.url().split('/').pop()!;
    const back = page.getByRole('link', { name: `Follows up ${parent.slice(0, 8)}` });
    await back.waitFor();
    expect(await back.getAttribute('href')).toBe(`/runs/${parent}`);
    // The new run is a page of its own: an empty box, and the follow-up's resumeCommand in its log.
    expect(await page.getByLabel('Message', { exact: true }).inputValue()).toBe('');
    await page.getByText('again two').first().waitFor();
    expect(await waitForStatus(server, alice, child, ['succeeded'])).toMatchObject({ parentRunId: parent });
    await back.click();
    await page.waitForURL(`${server.url}/runs/${parent}`);
    await page.getByText('first one').first().waitFor();
    expectNoProblems(problems);
    await close();
  });

  it("shows the problem's detail when the profile takes no follow-up", async () => {
    const id = await submit({ agent: 'fast', prompt: 'one' });
    await waitForStatus(server, alice, id, ['succeeded']);
    const { page, problems, close } = await openRun(id);
    await page.getByLabel('Message', { exact: true }).fill('two');
    await page.keyboard.press('Control+Enter');
    await expect(page.getByRole('alert').filter({ hasText: 'resumeCommand' }).textContent()).resolves.toBe(
      'agent profile "fast" declares no resumeCommand, so its runs cannot be followed up',
    );
    // Nothing was made: the page stays, the message stays in the box to be copied.
    expect(page.url()).toBe(`${server.url}/runs/${id}`);
    expect(await page.getByLabel('Message', { exact: true }).inputValue()).toBe('two');
    expectNoProblems(problems);
    await close();
  });

  it('sends a message into a running claude session: the box empties and the message shows in the events', async () => {
    const id = await submit({ agent: 'claude-test', prompt: '[script:live] Wait for me.' });
    await waitFor(async () => (await server.request('GET', `/api/v1/runs/${id}/events?limit=1000`, { token: alice })).json.items.some((e: { type: string }) => e.type === 'tool_use'), 60_000, 'the agent waiting in its tool call');
    const { page, problems, close } = await openRun(id);
    await page.getByRole('heading', { name: 'Send a message' }).waitFor();
    await page.getByLabel('Message', { exact: true }).fill('Also mention bananas.');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByRole('status').filter({ hasText: 'Sent.' }).waitFor();
    expect(page.url()).toBe(`${server.url}/runs/${id}`);
    expect(await page.getByLabel('Message', { exact: true }).inputValue()).toBe('');
    await page.locator('.timeline-user_message').filter({ hasText: 'Also mention bananas.' }).waitFor({ timeout: 30_000 });
    writeFileSync(join(server.dataDir, 'users', 'alice', 'runs', id, 'go'), '');
    await page.locator('.badge.status-succeeded').first().waitFor({ timeout: 60_000 });
    expectNoProblems(problems);
    await close();
  });

  it('shows a waiting tool call with its input and time left; Allow lets the run go on to succeeded', async () => {
    const id = await submit({ agent: 'gated', prompt: '[script:gate-allow] Write a file' });
    await pending(id);
    for (const theme of ['light', 'dark'] as const) {
      for (const width of [1280, 375]) {
        const { page, problems, close } = await openRun(id, { theme, width });
        const panel = page.getByRole('region', { name: 'Approval needed: Bash' });
        await panel.waitFor();
        await expect(panel.getByRole('region', { name: 'Bash input' }).textContent()).resolves.toContain('"command": "echo approved > allowed.txt"');
        await expect(panel.textContent()).resolves.toMatch(/Time left: [45] min \d+ s/);
        await page.locator('.timeline-approval_requested').filter({ hasText: 'Approval asked: Bash' }).waitFor();
        expect({ theme, width, violations: await seriousViolations(page) }).toEqual({ theme, width, violations: [] });
        if (width === 375) {
          const scrollWidth = await page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.documentElement.scrollWidth);
          expect({ theme, scrollWidth }).toEqual({ theme, scrollWidth: 375 });
        }
        if (SCREENSHOTS && width === 1280) {
          mkdirSync(SCREENSHOTS, { recursive: true });
          await page.screenshot({ path: join(SCREENSHOTS, `run-approval-${theme}.png`), fullPage: true });
        }
        expectNoProblems(problems);
        await close();
      }
    }

    const { page, problems, close } = await openRun(id);
    // By keyboard: the input can be scrolled, then the reason, then Allow.
    await page.getByLabel('Reason').focus();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.locator('.timeline-approval_decided').filter({ hasText: 'Allowed by alice' }).waitFor({ timeout: 30_000 });
    await page.getByRole('region', { name: /Approval needed/ }).waitFor({ state: 'detached' });
    await page.locator('.badge.status-succeeded').first().waitFor({ timeout: 60_000 });
    expect(await waitForStatus(server, alice, id, ['succeeded'])).toMatchObject({ pendingApproval: null });
    expectNoProblems(problems);
    await close();
  });

  it('denies with a reason, which the timeline records', async () => {
    const id = await submit({ agent: 'gated', prompt: '[script:gate-deny] Write a file' });
    await pending(id);
    const { page, problems, close } = await openRun(id);
    await page.getByRole('region', { name: 'Approval needed: Bash' }).waitFor();
    await page.getByLabel('Reason').fill('Not in this directory.');
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.locator('.timeline-approval_decided').filter({ hasText: 'Denied by alice: Not in this directory.' }).waitFor({ timeout: 30_000 });
    await page.getByRole('region', { name: /Approval needed/ }).waitFor({ state: 'detached' });
    await page.locator('.badge.status-succeeded').first().waitFor({ timeout: 60_000 });
    expectNoProblems(problems);
    await close();
  });

  it('says so when the call was decided elsewhere in the meantime (approval_closed), and refreshes', async () => {
    const id = await submit({ agent: 'gated', prompt: '[script:gate-closed] Write a file' });
    const approval = await pending(id);
    const { context, page, problems } = await openPage(browser);
    await signInWithToken(page, server.url, alice);
    // The page hears no events here (the request is held), so it still shows the call once decided.
    await page.route('**/api/v1/runs/*/events*', () => {});
    await page.goto(`${server.url}/runs/${id}`);
    await page.getByRole('region', { name: 'Approval needed: Bash' }).waitFor();
    const decided = await server.request('POST', `/api/v1/runs/${id}/approvals/${approval.approvalId as string}`, { token: alice, body: { decision: 'deny' } });
    expect(decided.status, decided.text).toBe(200);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByRole('alert').filter({ hasText: /already decided|no longer running/ }).waitFor();
    await page.getByRole('region', { name: /Approval needed/ }).waitFor({ state: 'detached' });
    expectNoProblems(problems);
    await context.close();
    await waitForStatus(server, alice, id, ['succeeded'], 60_000);
  });
});
