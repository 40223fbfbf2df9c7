import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { startAnthropicStub, useStubForClaude, type AnthropicStub, type StubTurn } from './fixtures/anthropic-stub.js';
import { isAlive, liveGroupMembers, runProcesses } from './helpers/processes.js';
import { sandboxAvailable } from './helpers/sandbox.js';
import { disposeTestServer, FIXTURE_AGENTS, startTestServer, waitFor, waitForStatus, type TestServer } from './helpers/test-server.js';

// The `claude` executor end to end: the real Claude Agent SDK starts the real Claude Code CLI
// it bundles, which talks to a stand-in for the Anthropic Messages API on 127.0.0.1.

const SECRETS = {
  JWT_SECRET: 'jwt-secret-that-must-never-reach-an-agent-0123456789',
  REDIS_URL: 'redis://must-not-leak.invalid:6379',
  // In the services suite DATABASE_URL is the real one; here it only has to stay out of the agent.
  ...(process.env.AUTOCODE_TEST_DB === 'postgres' ? {} : { DATABASE_URL: 'postgres://must-not-leak.invalid/db' }),
};

/** A process that leaves the agent's process group and session, and its parent: only the run id in its environment still ties it to the run. */
const ORPHAN = "nohup setsid sh -c 'echo $$ > orphan.pid; exec tail -f /dev/null' >/dev/null 2>&1 &";

const SCRIPTS: Record<string, StubTurn[]> = {
  write: [
    { text: 'Creating the file.', tool: 'Write', input: { file_path: 'hello.txt', content: 'Hello from the stub\n' } },
    { text: 'All done: hello.txt is written.' },
  ],
  stall: [{ stall: true }],
  background: [
    { tool: 'Bash', input: { command: 'echo $$ > background.pid && exec tail -f /dev/null', description: 'hold', run_in_background: true } },
    { tool: 'Bash', input: { command: ORPHAN, description: 'orphan' } },
    { stall: true },
  ],
  leftover: [{ tool: 'Bash', input: { command: ORPHAN, description: 'orphan' } }, { text: 'Started it.' }],
  loop: [{ tool: 'Bash', input: { command: 'echo again', description: 'loop' } }],
  // Each turn costs about $0.75 at Sonnet's prices (50,000 output tokens).
  pricey: [{ tool: 'Bash', input: { command: 'echo again', description: 'loop' }, usage: { input_tokens: 120, output_tokens: 50_000 } }],
  env: [{ tool: 'Bash', input: { command: 'env', description: 'print the environment' } }, { text: 'Printed.' }],
  // The server under test is this process; the run's workspace is DATA_DIR/users/<user>/runs/<id>.
  identity: [
    {
      tool: 'Bash',
      input: {
        command: `echo "uid $(id -u)"; cat "$AUTOCODE_WORKSPACE/../../../../jwt.secret"; cat /proc/${process.pid}/environ; echo mine > own.txt && echo wrote own.txt`,
        description: 'probe',
      },
    },
    { text: 'Probed.' },
  ],
};

const AGENTS = {
  ...FIXTURE_AGENTS,
  'claude-test': { executor: 'claude', maxTurns: 5, allowedTools: ['Read', 'Write', 'Edit', 'Bash'] },
  'claude-one-turn': { executor: 'claude', maxTurns: 1, allowedTools: ['Bash'] },
};

interface Event {
  seq: number;
  type: string;
  data: Record<string, unknown>;
}

describe('claude executor', () => {
  let stub: AnthropicStub;
  let server: TestServer;
  let token: string;
  let restoreEnv: () => void = () => {};

  beforeAll(async () => {
    stub = await startAnthropicStub(SCRIPTS);
    // The server under test runs in this process and builds agent environments from it.
    restoreEnv = useStubForClaude(stub, SECRETS);
    server = await startTestServer({ agents: AGENTS });
    token = server.token('alice');
  });

  afterAll(async () => {
    await disposeTestServer(server);
    await stub.close();
    restoreEnv();
  });

  async function submit(body: Record<string, unknown>): Promise<string> {
    const response = await server.request('POST', '/api/v1/runs', { token, body });
    expect(response.status, response.text).toBe(202);
    return response.json.id as string;
  }

  async function events(runId: string): Promise<Event[]> {
    return (await server.request('GET', `/api/v1/runs/${runId}/events?limit=1000`, { token })).json.items;
  }

  /** Waits until the stub holds a stalled stream open for this script, i.e. the agent is mid-turn. */
  async function stalled(script: string, turn = 0): Promise<void> {
    await waitFor(() => stub.requests.some((r) => r.script === script && r.turn === turn && Array.isArray(r.body?.tools)), 20_000, `a stalled ${script} turn`);
  }

  it('runs a Write tool call to success: the file in the workspace, typed events, cost and tokens', async () => {
    const id = await submit({ agent: 'claude-test', prompt: '[script:write] Create hello.txt' });
    const run = await waitForStatus(server, token, id, ['succeeded', 'failed', 'timed_out']);
    expect(run, JSON.stringify(run.error)).toMatchObject({ status: 'succeeded', exitCode: 0, error: null });
    expect(readFileSync(join(server.dataDir, 'users', 'alice', 'runs', id, 'hello.txt'), 'utf8')).toBe('Hello from the stub\n');

    const list = await events(id);
    const types = list.map((e) => e.type);
    for (const type of ['message', 'tool_use', 'tool_result', 'result']) expect(types).toContain(type);
    expect(list.find((e) => e.type === 'tool_use')!.data).toEqual({ name: 'Write', input: { file_path: 'hello.txt', content: 'Hello from the stub\n' } });
    expect(list.find((e) => e.type === 'tool_result')!.data).toMatchObject({ ok: true, output: expect.stringContaining('hello.txt') });
    expect(list.filter((e) => e.type === 'message').map((e) => e.data.text)).toEqual(['Creating the file.', 'All done: hello.txt is written.']);
    expect(types.indexOf('tool_use')).toBeLessThan(types.indexOf('tool_result'));
    expect(list.at(-1)).toMatchObject({ type: 'status', data: { status: 'succeeded' } });

    expect(run.result).toMatchObject({ summary: 'All done: hello.txt is written.', turns: 2 });
    expect(run.result.costUsd).toBeGreaterThan(0);
    expect(run.result.inputTokens).toBeGreaterThan(0);
    expect(run.result.outputTokens).toBeGreaterThan(0);
    expect(list.find((e) => e.type === 'result')!.data).toEqual(run.result);
    expect(runProcesses(id)).toEqual([]);
  });

  it('times out a stalled stream at the run timeout and leaves no process of its group', async () => {
    const id = await submit({ agent: 'claude-test', prompt: '[script:stall] Think forever', timeoutSeconds: 3 });
    await stalled('stall');
    const processes = runProcesses(id);
    expect(processes.length).toBeGreaterThan(0);
    const pgid = processes[0]!.pgid;
    expect(processes.every((p) => p.pgid === pgid)).toBe(true);

    const run = await waitForStatus(server, token, id, ['timed_out', 'failed', 'succeeded', 'cancelled']);
    expect(run.status).toBe('timed_out');
    // Claude Code was asked to end its turn first, so the run still records what it spent.
    expect(run.result.costUsd).toBeGreaterThan(0);
    expect(run.durationMs).toBeGreaterThanOrEqual(3_000);
    expect(run.durationMs).toBeLessThan(8_000);
    expect(liveGroupMembers(pgid)).toEqual([]);
    expect(processes.filter((p) => isAlive(p.pid))).toEqual([]);
    expect((await events(id)).at(-1)).toMatchObject({ type: 'status', data: { status: 'timed_out', reason: 'timeout' } });
  });

  /** The pid a script's Bash call wrote into the run's workspace. */
  async function pidIn(runId: string, file: string): Promise<number> {
    const path = join(server.dataDir, 'users', 'alice', 'runs', runId, file);
    return waitFor(() => existsSync(path) && Number(readFileSync(path, 'utf8').trim()), 10_000, file);
  }

  it('cancels a stalled stream, ending the background and orphaned processes the agent started', async () => {
    const id = await submit({ agent: 'claude-test', prompt: '[script:background] Start a server and wait' });
    await stalled('background', 2);
    const started = [await pidIn(id, 'background.pid'), await pidIn(id, 'orphan.pid')];
    expect(started.filter(isAlive)).toEqual(started);
    const processes = runProcesses(id);
    // Claude Code starts Bash commands in sessions of their own: the agent's group alone would not reach them.
    expect(new Set(processes.map((p) => p.pgid)).size).toBeGreaterThan(1);

    const cancel = await server.request('POST', `/api/v1/runs/${id}/cancel`, { token });
    expect(cancel.status).toBe(202);
    const run = await waitForStatus(server, token, id, ['cancelled', 'failed', 'succeeded', 'timed_out']);
    expect(run.status).toBe('cancelled');
    expect(started.filter(isAlive)).toEqual([]);
    expect(processes.filter((p) => isAlive(p.pid))).toEqual([]);
    for (const pgid of new Set(processes.map((p) => p.pgid))) expect(liveGroupMembers(pgid)).toEqual([]);
  });

  it('ends what the agent left running once it succeeds', async () => {
    const id = await submit({ agent: 'claude-test', prompt: '[script:leftover] Start something and finish' });
    const run = await waitForStatus(server, token, id, ['succeeded', 'failed', 'timed_out']);
    expect(run.status).toBe('succeeded');
    expect(isAlive(await pidIn(id, 'orphan.pid'))).toBe(false);
    expect(runProcesses(id)).toEqual([]);
  });

  it('fails a run that reaches maxTurns with error_max_turns', async () => {
    const id = await submit({ agent: 'claude-one-turn', prompt: '[script:loop] Keep going' });
    const run = await waitForStatus(server, token, id, ['failed', 'succeeded', 'timed_out']);
    expect(run).toMatchObject({ status: 'failed', error: { code: 'error_max_turns' } });
    expect(run.error.message).toMatch(/turns/i);
    expect(run.result.turns).toBeGreaterThanOrEqual(1);
    expect((await events(id)).some((e) => e.type === 'tool_use')).toBe(true);
  });

  it('fails a run that spends its maxBudgetUsd with budget_exceeded, and counts what it spent', async () => {
    const before = (await server.request('GET', '/api/v1/quota', { token })).json.budget;
    const id = await submit({ agent: 'claude-test', prompt: '[script:pricey] Keep going', maxBudgetUsd: 0.5 });
    const run = await waitForStatus(server, token, id, ['failed', 'succeeded', 'timed_out']);
    expect(run).toMatchObject({ status: 'failed', maxBudgetUsd: 0.5, error: { code: 'budget_exceeded' } });
    // One turn passes the budget: without it the loop would have gone on to maxTurns (5).
    expect(run.result.costUsd).toBeGreaterThan(0.5);
    expect(run.result.costUsd).toBeLessThan(1.5);
    expect((await events(id)).at(-1)).toMatchObject({ type: 'status', data: { status: 'failed' } });
    const after = (await server.request('GET', '/api/v1/quota', { token })).json.budget;
    expect(after.usedUsd).toBeCloseTo(before.usedUsd + run.result.costUsd, 5);
  });

  it("gives a run without a budget what is left of its owner's daily budget, then refuses budget_exhausted", async () => {
    const admin = server.token('root', { admin: true });
    const set = await server.request('PUT', '/api/v1/admin/users/spender/quota', { token: admin, body: { dailyBudgetUsd: 1 } });
    expect(set.status, set.text).toBe(200);
    const spender = server.token('spender');
    const submitted = await server.request('POST', '/api/v1/runs', { token: spender, body: { agent: 'claude-test', prompt: '[script:pricey] Keep going' } });
    expect(submitted.status, submitted.text).toBe(202);
    expect(submitted.json.maxBudgetUsd).toBeNull();
    const run = await waitForStatus(server, spender, submitted.json.id, ['failed', 'succeeded', 'timed_out']);
    expect(run).toMatchObject({ status: 'failed', error: { code: 'budget_exceeded' } });
    // $0.75 a turn: the second turn passes the $1 that was left.
    expect(run.result.costUsd).toBeGreaterThan(1);
    expect(run.result.costUsd).toBeLessThan(2.5);

    const quota = (await server.request('GET', '/api/v1/quota', { token: spender })).json;
    expect(quota.budget.limitUsd).toBe(1);
    expect(quota.budget.usedUsd).toBeCloseTo(run.result.costUsd, 5);
    const refused = await server.request('POST', '/api/v1/runs', { token: spender, body: { agent: 'claude-test', prompt: 'more' } });
    expect(refused.status, refused.text).toBe(429);
    expect(refused.json).toMatchObject({ code: 'budget_exhausted', limitUsd: 1 });
    expect(refused.json.usedUsd).toBeCloseTo(run.result.costUsd, 5);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('gives the agent none of the server secrets', async () => {
    const id = await submit({ agent: 'claude-test', prompt: '[script:env] Print the environment' });
    const run = await waitForStatus(server, token, id, ['succeeded', 'failed', 'timed_out']);
    expect(run.status).toBe('succeeded');
    const output = JSON.stringify((await events(id)).find((e) => e.type === 'tool_result')!.data.output);
    expect(output).toContain(`AUTOCODE_RUN_ID=${id}`);
    for (const [name, value] of Object.entries(SECRETS)) {
      expect(output).not.toContain(`${name}=`);
      expect(output).not.toContain(value);
    }
  });

  // Unsandboxed (these servers run with SANDBOX=none), Claude Code and its tools still never run as a root server's user.
  (process.getuid?.() === 0 ? it : it.skip)('runs Claude Code as SANDBOX_UID under a root server: its tools cannot read the secret or the server\'s environment', async () => {
    const id = await submit({ agent: 'claude-test', prompt: '[script:identity] Who am I?' });
    const run = await waitForStatus(server, token, id, ['succeeded', 'failed', 'timed_out']);
    expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
    const output = String((await events(id)).find((e) => e.type === 'tool_result')!.data.output);
    expect(output).toContain('uid 65534');
    expect(output).toMatch(/jwt\.secret: Permission denied/);
    expect(output).toMatch(new RegExp(`/proc/${process.pid}/environ: Permission denied`));
    expect(output).toContain('wrote own.txt');
    expect(readFileSync(join(server.dataDir, 'users', 'alice', 'runs', id, 'own.txt'), 'utf8')).toBe('mine\n');
  });

  it('fails at once with agent_not_configured when the server has no credential', async () => {
    delete process.env.ANTHROPIC_API_KEY;
    try {
      const id = await submit({ agent: 'claude-test', prompt: 'anything' });
      const run = await waitForStatus(server, token, id, ['failed', 'succeeded', 'timed_out'], 5_000);
      expect(run).toMatchObject({ status: 'failed', exitCode: null, error: { code: 'agent_not_configured' } });
      expect(run.error.message).toContain('ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN');
      expect(run.durationMs).toBeLessThan(1_000);
    } finally {
      process.env.ANTHROPIC_API_KEY = 'sk-ant-test-not-a-real-key';
    }
  });

  it('lists the claude profiles with the credential they need', async () => {
    const response = await server.request('GET', '/api/v1/agents', { token });
    const items: { name: string; executor: string; description: string }[] = response.json.items;
    for (const name of ['claude', 'planner', 'coder', 'qa_reviewer', 'qa_fixer', 'claude-test']) {
      const item = items.find((i) => i.name === name);
      expect(item, name).toMatchObject({ executor: 'claude', description: expect.stringContaining('needs ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN') });
    }
  });

  (sandboxAvailable() ? describe : describe.skip)('inside the sandbox', () => {
    let sandboxed: TestServer;
    let alice: string;

    beforeAll(async () => {
      sandboxed = await startTestServer({ agents: AGENTS, env: { SANDBOX: 'bwrap' } });
      alice = sandboxed.token('alice');
    });

    afterAll(async () => {
      if (sandboxed) await disposeTestServer(sandboxed);
    });

    async function sandboxedRun(prompt: string, extra: Record<string, unknown> = {}): Promise<{ id: string; run: Record<string, unknown> }> {
      const response = await sandboxed.request('POST', '/api/v1/runs', { token: alice, body: { agent: 'claude-test', prompt, ...extra } });
      expect(response.status, response.text).toBe(202);
      const id = response.json.id as string;
      return { id, run: await waitForStatus(sandboxed, alice, id, ['succeeded', 'failed', 'timed_out', 'cancelled'], 30_000) };
    }

    it('runs a Write tool call to success against the Messages API stand-in', async () => {
      const { id, run } = await sandboxedRun('[script:write] Create hello.txt');
      expect(run, JSON.stringify(run.error)).toMatchObject({ status: 'succeeded', exitCode: 0, error: null });
      expect(readFileSync(join(sandboxed.dataDir, 'users', 'alice', 'runs', id, 'hello.txt'), 'utf8')).toBe('Hello from the stub\n');
      expect(runProcesses(id)).toEqual([]);
    });

    it('times out a stalled turn and leaves no process of the sandbox', async () => {
      const submitted = await sandboxed.request('POST', '/api/v1/runs', { token: alice, body: { agent: 'claude-test', prompt: '[script:stall] Think forever', timeoutSeconds: 3 } });
      const id = submitted.json.id as string;
      const processes = await waitFor(() => {
        const found = runProcesses(id);
        return found.length >= 3 && found;
      }, 20_000, 'the sandboxed Claude Code');
      const run = await waitForStatus(sandboxed, alice, id, ['timed_out', 'failed', 'succeeded', 'cancelled'], 30_000);
      expect(run.status).toBe('timed_out');
      expect(processes.filter((p) => isAlive(p.pid))).toEqual([]);
      expect(runProcesses(id)).toEqual([]);
    });
  });
});
