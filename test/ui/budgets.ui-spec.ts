import { afterAll, beforeAll, describe, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { expect } from '../jest/expect.js';
import { disposeTestServer, FIXTURE_AGENTS, fixtureProfile, startTestServer, waitForStatus, type TestServer } from '../helpers/test-server.js';
import { launchBrowser, openPage, signInWithToken } from './browser.js';

// The dashboard's budgets, measured in Chromium and printed (never asserted: timings on a shared
// machine would make a flaky test): the JavaScript of the first page, the time until it can be
// used, and a run printing 2,000 lines a second for 30 seconds (the page's long tasks and heap),
// then a finished run of 100,000 lines.

const AGENTS = {
  ...FIXTURE_AGENTS,
  flood: fixtureProfile('ticker.mjs', ['60000', '2000']),
  big: fixtureProfile('lines.mjs', ['100000']),
};

interface PageGlobals {
  performance: { now(): number; getEntriesByType(type: string): { name: string; encodedBodySize: number; initiatorType: string }[] };
  __longTasks: number[];
  PerformanceObserver: new (callback: (list: { getEntries(): { duration: number }[] }) => void) => { observe(options: unknown): void };
  document: { querySelector(selector: string): { scrollTop: number; scrollHeight: number } | null };
}

function report(line: string): void {
  process.stdout.write(`budget: ${line}\n`);
}

/** Collects the durations of the page's long tasks (over 50 ms) from its first script on. */
async function observeLongTasks(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const page = globalThis as unknown as PageGlobals;
    page.__longTasks = [];
    new page.PerformanceObserver((list) => {
      for (const entry of list.getEntries()) page.__longTasks.push(entry.duration);
    }).observe({ type: 'longtask', buffered: true });
  });
}

const longTasks = (page: Page): Promise<number[]> => page.evaluate(() => (globalThis as unknown as PageGlobals).__longTasks.splice(0));

async function heapBytes(page: Page): Promise<number> {
  const session = await page.context().newCDPSession(page);
  await session.send('Performance.enable');
  const { metrics } = await session.send('Performance.getMetrics');
  await session.detach();
  return metrics.find((metric) => metric.name === 'JSHeapUsedSize')!.value;
}

const summary = (tasks: number[]): string => (tasks.length === 0 ? 'none over 50 ms' : `${tasks.length} over 50 ms, longest ${Math.round(Math.max(...tasks))} ms`);

describe('the dashboard budgets', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer({ agents: AGENTS });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    if (server) await disposeTestServer(server);
  });

  it('measures the first page: its JavaScript and the time until it can be used', async () => {
    const { context, page } = await openPage(browser);
    await signInWithToken(page, server.url, server.token('perf'));
    // A fresh page of the signed-in browser, with an empty cache: the runs table, filled.
    const fresh = await context.newPage();
    const cdp = await context.newCDPSession(fresh);
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    await fresh.goto(server.url + '/');
    await fresh.getByText('No runs yet.').waitFor();
    const figures = await fresh.evaluate(() => {
      const page = globalThis as unknown as PageGlobals;
      const scripts = page.performance.getEntriesByType('resource').filter((entry) => entry.name.endsWith('.js'));
      return { interactiveMs: page.performance.now(), scriptBytes: scripts.reduce((sum, entry) => sum + entry.encodedBodySize, 0), scripts: scripts.length };
    });
    report(`first page usable after ${Math.round(figures.interactiveMs)} ms (budget 1000 ms); ${figures.scripts} script(s), ${(figures.scriptBytes / 1024).toFixed(1)} KB transferred (budget 150 KB gzipped)`);
    expect(figures.scripts).toBeGreaterThan(0);
    await context.close();
  });

  it('follows a run printing 2,000 lines a second for 30 seconds', async () => {
    const { context, page } = await openPage(browser);
    await observeLongTasks(page);
    const token = server.token('perf');
    await signInWithToken(page, server.url, token);
    const submitted = await server.request('POST', '/api/v1/runs', { token, body: { agent: 'flood', prompt: 'flood' } });
    expect(submitted.status).toBe(202);
    await page.goto(`${server.url}/runs/${submitted.json.id}`);
    await page.getByRole('log', { name: 'Log' }).waitFor();
    await longTasks(page);
    let peakHeap = 0;
    const tasks: number[] = [];
    const started = Date.now();
    while ((await server.request('GET', `/api/v1/runs/${submitted.json.id}`, { token })).json.status !== 'succeeded') {
      expect(Date.now() - started).toBeLessThan(90_000);
      peakHeap = Math.max(peakHeap, await heapBytes(page));
      tasks.push(...(await longTasks(page)));
      await page.waitForTimeout(1000);
    }
    await page.getByText('60,001 lines').waitFor({ timeout: 60_000 });
    await page.getByText('tick 60000', { exact: true }).waitFor();
    tasks.push(...(await longTasks(page)));
    peakHeap = Math.max(peakHeap, await heapBytes(page));
    report(`2,000 lines/s for 30 s: long tasks ${summary(tasks)} (budget: none over 100 ms); JS heap peak ${(peakHeap / 1024 / 1024).toFixed(1)} MB (budget 150 MB); followed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await context.close();
  });

  it('opens a finished run of 100,000 lines and scrolls it', async () => {
    const token = server.token('perf');
    const submitted = await server.request('POST', '/api/v1/runs', { token, body: { agent: 'big', prompt: 'big' } });
    await waitForStatus(server, token, submitted.json.id, ['succeeded'], 60_000);
    const { context, page } = await openPage(browser);
    await observeLongTasks(page);
    await signInWithToken(page, server.url, token);
    const started = Date.now();
    await page.goto(`${server.url}/runs/${submitted.json.id}`);
    await page.getByText('line 100000', { exact: true }).waitFor({ timeout: 60_000 });
    const loadedMs = Date.now() - started;
    const loadTasks = await longTasks(page);
    // Scroll from the end to the top and back, in steps, as a reader dragging the scrollbar.
    for (let step = 0; step <= 20; step += 1) {
      await page.evaluate((fraction) => {
        const log = (globalThis as unknown as PageGlobals).document.querySelector('[role="log"]')!;
        log.scrollTop = log.scrollHeight * fraction;
      }, 1 - step / 20);
      await page.waitForTimeout(50);
    }
    await page.getByText('line 1', { exact: true }).waitFor();
    const scrollTasks = await longTasks(page);
    report(`100,000 lines: whole log shown ${(loadedMs / 1000).toFixed(1)} s after opening (long tasks while loading: ${summary(loadTasks)}); scrolling end to top: ${summary(scrollTasks)}; JS heap ${((await heapBytes(page)) / 1024 / 1024).toFixed(1)} MB`);
    await context.close();
  });
});
