import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import {
  createTestDatabase,
  environment,
  FIXTURE_AGENTS,
  peakOverlap,
  request,
  waitFor,
  type TestDatabase,
} from './helpers/test-server.js';
import { hs256Token } from './helpers/tokens.js';

// Quotas across replicas: separate server processes sharing one PostgreSQL database.

const MAIN = join(import.meta.dirname, '..', 'dist', 'main.js');
const SECRET = randomBytes(32).toString('base64url');

function token(sub: string, admin = false): string {
  return hs256Token(SECRET, { sub, ...(admin ? { role: 'admin' } : {}) });
}

interface Node {
  url: string;
  process: ChildProcess;
  dataDir: string;
}

async function startNode(database: TestDatabase, env: Record<string, string>): Promise<Node> {
  const dataDir = mkdtempSync(join(tmpdir(), 'autocode-replica-'));
  const child = spawn(process.execPath, [MAIN], {
    env: { ...environment(dataDir, database, FIXTURE_AGENTS), JWT_SECRET: SECRET, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const port = await waitFor(() => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1] ?? (child.exitCode !== null ? 'exited' : undefined), 30_000, 'a replica to listen');
  if (port === 'exited') throw new Error(`a replica did not start: ${output}`);
  return { url: `http://127.0.0.1:${port}`, process: child, dataDir };
}

async function stopNode(node: Node): Promise<void> {
  if (node.process.exitCode === null && node.process.signalCode === null) {
    node.process.kill('SIGTERM');
    await once(node.process, 'exit');
  }
  rmSync(node.dataDir, { recursive: true, force: true });
}

async function storm(nodes: Node[], user: string, count: number, agent: string): Promise<{ accepted: string[]; refused: { status: number; code: string }[] }> {
  const bearer = token(user);
  const responses = await Promise.all(
    Array.from({ length: count }, (_, i) => request(nodes[i % nodes.length]!.url, 'POST', '/api/v1/runs', { token: bearer, body: { agent, prompt: `run ${i}` } })),
  );
  return {
    accepted: responses.filter((r) => r.status === 202).map((r) => r.json.id as string),
    refused: responses.filter((r) => r.status !== 202).map((r) => ({ status: r.status, code: r.json?.code as string })),
  };
}

describe('quota across two replicas on PostgreSQL', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
    expect(database.url, 'the services suite runs on PostgreSQL').toMatch(/^postgres/);
  });
  afterAll(async () => database.drop());

  it('reject mode: 200 concurrent submits across both replicas admit exactly the concurrency limit', async () => {
    const env = { ROLE: 'api', QUOTA_OVERFLOW: 'reject' };
    const nodes = [await startNode(database, env), await startNode(database, env)];
    try {
      await request(nodes[0]!.url, 'GET', '/api/v1/runs', { token: token('racer') });
      const set = await request(nodes[1]!.url, 'PUT', '/api/v1/admin/users/racer/quota', { token: token('root', true), body: { concurrent: 5 } });
      expect(set.status, set.text).toBe(200);
      const { accepted, refused } = await storm(nodes, 'racer', 200, 'sleeper');
      expect(accepted).toHaveLength(5);
      expect(refused).toHaveLength(195);
      expect(new Set(refused.map((r) => `${r.status} ${r.code}`))).toEqual(new Set(['429 concurrency_limit']));
      const list = await request(nodes[0]!.url, 'GET', '/api/v1/runs?limit=100', { token: token('racer') });
      expect(list.json.items).toHaveLength(5);
    } finally {
      await Promise.all(nodes.map(stopNode));
    }
  });

  it('queue mode: exactly the queued limit is admitted, and draining never runs more than the concurrency limit', async () => {
    const env = { ROLE: 'api', QUOTA_OVERFLOW: 'queue' };
    const nodes = [await startNode(database, env), await startNode(database, env)];
    let worker: Node | null = null;
    try {
      await request(nodes[0]!.url, 'GET', '/api/v1/runs', { token: token('queuer') });
      const set = await request(nodes[0]!.url, 'PUT', '/api/v1/admin/users/queuer/quota', { token: token('root', true), body: { queued: 7, concurrent: 2 } });
      expect(set.status, set.text).toBe(200);
      const { accepted, refused } = await storm(nodes, 'queuer', 200, 'short');
      expect(accepted).toHaveLength(7);
      expect(new Set(refused.map((r) => `${r.status} ${r.code}`))).toEqual(new Set(['429 queue_full']));

      // A worker node picks the queued runs up from the shared database.
      worker = await startNode(database, { ROLE: 'worker', MAX_CONCURRENT_AGENTS: '8' });
      const bearer = token('queuer');
      let peak = 0;
      await waitFor(async () => {
        const list = await request(nodes[1]!.url, 'GET', '/api/v1/runs?limit=100', { token: bearer });
        const statuses: string[] = list.json.items.map((run: { status: string }) => run.status);
        peak = Math.max(peak, statuses.filter((s) => s === 'running').length);
        return statuses.every((s) => s === 'succeeded');
      }, 60_000, 'the queue to drain');
      expect(peak).toBeLessThanOrEqual(2);
      const runs = await Promise.all(accepted.map(async (id) => (await request(nodes[0]!.url, 'GET', `/api/v1/runs/${id}`, { token: bearer })).json));
      const most = peakOverlap(runs);
      expect(most).toBeLessThanOrEqual(2);
      expect(most).toBeGreaterThanOrEqual(1);
    } finally {
      await Promise.all([...nodes, ...(worker ? [worker] : [])].map(stopNode));
    }
  });
});

describe('Idempotency-Key across two replicas on PostgreSQL', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => database.drop());

  it('creates exactly one run from 50 concurrent submits with one key spread over both replicas', async () => {
    const nodes = [await startNode(database, { ROLE: 'api' }), await startNode(database, { ROLE: 'api' })];
    try {
      const bearer = token('retrier');
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          request(nodes[i % 2]!.url, 'POST', '/api/v1/runs', { token: bearer, headers: { 'idempotency-key': 'ci-job-7' }, body: { agent: 'sleeper', prompt: 'once' } }),
        ),
      );
      expect(answers.map((answer) => answer.status)).toEqual(Array(50).fill(202));
      expect(new Set(answers.map((answer) => answer.json.id)).size).toBe(1);
      expect(answers.filter((answer) => answer.headers.get('idempotent-replayed') === 'true')).toHaveLength(49);
      const list = await request(nodes[1]!.url, 'GET', '/api/v1/runs?limit=100', { token: bearer });
      expect(list.json.items).toHaveLength(1);
    } finally {
      await Promise.all(nodes.map(stopNode));
    }
  });
});
