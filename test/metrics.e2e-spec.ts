import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { disposeTestServer, startTestServer, waitForStatus, type TestServer } from './helpers/test-server.js';

// Every metric is driven by the code path it names. The registry is per process, so the
// assertions compare scrapes before and after.

type Samples = Map<string, number>;

function parse(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

describe('metrics', () => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer({ env: { MAX_CONCURRENT_AGENTS: '4', QUOTA_DEFAULT_TIER: 'premium' } });
    token = server.token('metered');
  });
  afterAll(async () => disposeTestServer(server));

  async function scrape(): Promise<Samples> {
    const response = await server.request('GET', '/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    return parse(response.text);
  }

  const value = (samples: Samples, key: string): number => samples.get(key) ?? 0;

  async function run(agent: string, body: Record<string, unknown> = {}): Promise<string> {
    const response = await server.request('POST', '/api/v1/runs', { token, body: { agent, prompt: 'measure me', ...body } });
    expect(response.status, response.text).toBe(202);
    return response.json.id;
  }

  it('counts submissions and finishes by agent and status, durations, and active runs', async () => {
    const before = await scrape();
    const done = await Promise.all([run('lines'), run('lines'), run('lines'), run('fail')]);
    for (const id of done) await waitForStatus(server, token, id, ['succeeded', 'failed']);
    const sleeping = [await run('sleeper'), await run('sleeper')];
    for (const id of sleeping) await waitForStatus(server, token, id, ['running']);
    const during = await scrape();
    expect(value(during, 'autocode_runs_active')).toBe(2);
    await server.request('POST', `/api/v1/runs/${sleeping[0]}/cancel`, { token });
    await server.request('POST', `/api/v1/runs/${sleeping[1]}/cancel`, { token });
    for (const id of sleeping) await waitForStatus(server, token, id, ['cancelled']);
    const after = await scrape();

    const delta = (key: string): number => value(after, key) - value(before, key);
    expect(delta('autocode_runs_submitted_total{agent="lines"}')).toBe(3);
    expect(delta('autocode_runs_submitted_total{agent="fail"}')).toBe(1);
    expect(delta('autocode_runs_finished_total{agent="lines",status="succeeded"}')).toBe(3);
    expect(delta('autocode_runs_finished_total{agent="fail",status="failed"}')).toBe(1);
    expect(delta('autocode_runs_finished_total{agent="sleeper",status="cancelled"}')).toBe(2);
    expect(delta('autocode_run_duration_seconds_count{agent="lines"}') + delta('autocode_run_duration_seconds_count{agent="fail"}')).toBe(4);
    expect(delta('autocode_run_duration_seconds_count{agent="sleeper"}')).toBe(2);
    expect(delta('autocode_run_queue_wait_seconds_count')).toBe(6);
    expect(value(after, 'autocode_runs_active')).toBe(0);
    expect(value(after, 'autocode_runs_queued')).toBe(0);
  });

  it('counts quota refusals by reason', async () => {
    const admin = server.token('root', { admin: true });
    await server.request('PUT', '/api/v1/admin/users/refused/quota', { token: admin, body: { daily: 0 } });
    const before = await scrape();
    const refused = await server.request('POST', '/api/v1/runs', { token: server.token('refused'), body: { agent: 'lines', prompt: 'x' } });
    expect(refused.status).toBe(429);
    const after = await scrape();
    expect(value(after, 'autocode_quota_rejections_total{reason="daily_limit"}') - value(before, 'autocode_quota_rejections_total{reason="daily_limit"}')).toBe(1);
  });

  it('labels HTTP requests with the route template, never the raw URL or a user', async () => {
    const before = await scrape();
    for (let i = 0; i < 50; i++) await server.request('GET', `/api/v1/runs/${randomUUID()}`, { token });
    const after = await scrape();
    const series = [...after.keys()].filter((key) => key.startsWith('autocode_http_requests_total{'));
    const notFound = 'autocode_http_requests_total{method="GET",route="/api/v1/runs/:id",status="404"}';
    // Fifty ids, one series.
    expect(series.filter((key) => key.includes('route="/api/v1/runs/:id"') && key.includes('status="404"'))).toEqual([notFound]);
    expect(value(after, notFound) - value(before, notFound)).toBe(50);
    for (const key of series) expect(key).toMatch(/route="(unmatched|\/[a-z0-9/:._-]*)"/);
    for (const key of after.keys()) {
      expect(key).not.toContain('metered');
      expect(key).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
    }
    expect([...after.keys()].some((key) => key.startsWith('autocode_build_info{version='))).toBe(true);
    expect(value(after, 'autocode_uptime_seconds')).toBeGreaterThanOrEqual(0);
    expect([...after.keys()].some((key) => key.startsWith('process_cpu_user_seconds_total'))).toBe(true);
  });
});
