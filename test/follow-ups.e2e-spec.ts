import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { DatabaseService } from '../src/database/database.service.js';
import { startAnthropicStub, useStubForClaude, type AnthropicStub, type StubTurn } from './fixtures/anthropic-stub.js';
import { disposeTestServer, FIXTURE_AGENTS, startTestServer, waitFor, waitForStatus, type TestServer } from './helpers/test-server.js';

// Follow-up messages end to end: the real Claude Agent SDK and Claude Code CLI against the Messages
// API stand-in, sessions kept in the database and resumed, messages reaching a live session.

const SCRIPTS: Record<string, StubTurn[]> = {
  remember: [{ text: 'Noted.' }],
  // The agent waits in a tool call until the test lets it go, once the message has reached it.
  live: [{ tool: 'Bash', input: { command: 'while [ ! -f go ]; do sleep 0.1; done; echo released', description: 'wait' } }, { text: 'Read your message.' }],
  write: [{ text: 'Writing.', tool: 'Write', input: { file_path: 'hello.txt', content: 'Hello\n' } }, { text: 'Done.' }],
};

const AGENTS = {
  ...FIXTURE_AGENTS,
  'claude-test': { executor: 'claude', maxTurns: 5, allowedTools: ['Read', 'Write', 'Edit', 'Bash'] },
  resumable: { executor: 'command', command: ['/bin/echo', 'first {prompt}'], resumeCommand: ['/bin/echo', 'again {prompt}'] },
  'resumable-slow': { executor: 'command', command: [process.execPath, '-e', "setTimeout(() => console.log('first'), 1500)"], resumeCommand: ['/bin/echo', 'again {prompt}'] },
};

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('follow-up messages', () => {
  let stub: AnthropicStub;
  let server: TestServer;
  let alice: string;
  let restoreEnv: () => void = () => {};

  beforeAll(async () => {
    stub = await startAnthropicStub(SCRIPTS);
    restoreEnv = useStubForClaude(stub);
    server = await startTestServer({ agents: AGENTS });
    alice = server.token('alice');
  });

  afterAll(async () => {
    await disposeTestServer(server);
    await stub.close();
    restoreEnv();
  });

  async function submit(body: Json): Promise<string> {
    const response = await server.request('POST', '/api/v1/runs', { token: alice, body });
    expect(response.status, response.text).toBe(202);
    return response.json.id as string;
  }

  async function send(runId: string, prompt: string, token = alice): Promise<{ status: number; json: Json; text: string }> {
    return server.request('POST', `/api/v1/runs/${runId}/messages`, { token, body: { prompt } });
  }

  async function done(runId: string): Promise<Json> {
    return waitForStatus(server, alice, runId, ['succeeded', 'failed', 'timed_out', 'cancelled'], 30_000);
  }

  /** The agent turns (requests with tools) whose conversation holds `text`. */
  const turnsWith = (text: string): Json[] => stub.requests.filter((r) => Array.isArray(r.body?.tools) && JSON.stringify(r.body?.messages).includes(text)).map((r) => r.body!);

  it('continues a finished run as a thread: each follow-up resumes the session, so the model sees the earlier turns', async () => {
    const root = await submit({ agent: 'claude-test', prompt: '[script:remember] The secret word is pineapple.' });
    expect(await done(root), 'root').toMatchObject({ status: 'succeeded', parentRunId: null });

    const sent = await send(root, 'What was the secret word?');
    expect(sent.status, sent.text).toBe(202);
    expect(sent.json).toMatchObject({ parentRunId: root, agent: 'claude-test', status: 'queued', prompt: 'What was the secret word?' });
    const second = sent.json.id as string;
    expect(await done(second), 'second').toMatchObject({ status: 'succeeded', parentRunId: root });
    const [secondTurn] = turnsWith('What was the secret word?');
    expect(JSON.stringify(secondTurn!.messages)).toContain('The secret word is pineapple.');
    expect(JSON.stringify(secondTurn!.messages)).toContain('Noted.');

    const third = (await send(second, 'And spell it backwards.')).json.id as string;
    expect(await done(third), 'third').toMatchObject({ status: 'succeeded', parentRunId: second });
    const thirdTurn = turnsWith('And spell it backwards.')[0]!;
    for (const earlier of ['The secret word is pineapple.', 'What was the secret word?']) expect(JSON.stringify(thirdTurn.messages)).toContain(earlier);

    const thread = await server.request('GET', `/api/v1/runs?thread=${root}`, { token: alice });
    expect(thread.status, thread.text).toBe(200);
    expect(thread.json.items.map((run: Json) => run.id)).toEqual([third, second, root]);
    expect((await server.request('GET', `/api/v1/runs/${third}`, { token: alice })).json.parentRunId).toBe(second);
  });

  it('delivers a message to a running session, recorded as a user_message event', async () => {
    const id = await submit({ agent: 'claude-test', prompt: '[script:live] Wait for me.' });
    const events = async (): Promise<Json[]> => (await server.request('GET', `/api/v1/runs/${id}/events?limit=1000`, { token: alice })).json.items;
    await waitFor(async () => (await events()).some((e) => e.type === 'tool_use'), 30_000, 'the agent waiting in its tool call');

    const sent = await send(id, 'Also mention bananas.');
    expect(sent.status, sent.text).toBe(202);
    expect(sent.json).toMatchObject({ id, status: 'running' });
    await waitFor(async () => (await events()).some((e) => e.type === 'user_message' && e.data.prompt === 'Also mention bananas.'), 10_000, 'the user_message event');
    writeFileSync(join(server.dataDir, 'users', 'alice', 'runs', id, 'go'), '');

    expect(await done(id)).toMatchObject({ status: 'succeeded', parentRunId: null });
    expect(turnsWith('Also mention bananas.').length).toBeGreaterThan(0);
  });

  it('keeps a message sent while the run waits queued, and hands it over once the agent starts', async () => {
    const user = 'quinn';
    const token = server.token(user);
    const limit = await server.request('PUT', `/api/v1/admin/users/${user}/quota`, { token: server.token('root', { admin: true }), body: { concurrent: 1 } });
    expect(limit.status, limit.text).toBe(200);
    const blocker = (await server.request('POST', '/api/v1/runs', { token, body: { agent: 'sleeper', prompt: 'hold the slot' } })).json.id as string;
    await waitForStatus(server, token, blocker, ['running'], 15_000);
    const queued = await server.request('POST', '/api/v1/runs', { token, body: { agent: 'claude-test', prompt: '[script:live] Wait for me.' } });
    expect(queued.status, queued.text).toBe(202);
    const id = queued.json.id as string;
    const sent = await server.request('POST', `/api/v1/runs/${id}/messages`, { token, body: { prompt: 'Queued pears.' } });
    expect(sent.status, sent.text).toBe(202);
    expect(sent.json).toMatchObject({ id, status: 'queued' });

    await server.request('POST', `/api/v1/runs/${blocker}/cancel`, { token });
    const events = async (): Promise<Json[]> => (await server.request('GET', `/api/v1/runs/${id}/events?limit=1000`, { token })).json.items;
    await waitFor(async () => (await events()).some((e) => e.type === 'user_message' && e.data.prompt === 'Queued pears.'), 30_000, 'the user_message event');
    await waitFor(async () => (await events()).some((e) => e.type === 'tool_use'), 30_000, 'the agent waiting in its tool call');
    writeFileSync(join(server.dataDir, 'users', user, 'runs', id, 'go'), '');
    expect(await waitForStatus(server, token, id, ['succeeded', 'failed'], 30_000)).toMatchObject({ status: 'succeeded' });
    expect(turnsWith('Queued pears.').length).toBeGreaterThan(0);
  });

  it('starts a follow-up on a named workspace from the tip of its parent\'s branch', async () => {
    expect((await server.request('POST', '/api/v1/workspaces', { token: alice, body: { name: 'thread' } })).status).toBe(201);
    const first = await submit({ agent: 'claude-test', workspace: 'thread', prompt: '[script:write] Create hello.txt' });
    expect(await done(first)).toMatchObject({ status: 'succeeded' });
    const followUp = (await send(first, 'Now check it.')).json.id as string;
    const run = await done(followUp);
    expect(run).toMatchObject({ status: 'succeeded', workspace: 'thread', parentRunId: first });
    const repo = join(server.dataDir, 'users', 'alice', 'workspaces', 'thread');
    expect(run.baseCommit).toBe(execFileSync('git', ['rev-parse', `autocode/${first}`], { cwd: repo, encoding: 'utf8' }).trim());
    expect(readFileSync(join(server.dataDir, 'users', 'alice', 'runs', followUp, 'hello.txt'), 'utf8')).toBe('Hello\n');
  });

  it('answers 409 follow_up_unsupported for a command profile without resumeCommand, and runs the resumeCommand of one that has it', async () => {
    const plain = await submit({ agent: 'fast', prompt: 'one' });
    await done(plain);
    const refused = await send(plain, 'two');
    expect(refused.status, refused.text).toBe(409);
    expect(refused.json).toMatchObject({ code: 'follow_up_unsupported' });

    const first = await submit({ agent: 'resumable', prompt: 'one', timeoutSeconds: 77, maxBudgetUsd: 0.5, metadata: { ticket: 'T-1' } });
    await done(first);
    const followUp = await send(first, 'two');
    expect(followUp.status, followUp.text).toBe(202);
    // It runs as the run it continues.
    expect(await done(followUp.json.id)).toMatchObject({ status: 'succeeded', parentRunId: first, timeoutSeconds: 77, maxBudgetUsd: 0.5, metadata: { ticket: 'T-1' } });
    expect((await server.request('GET', `/api/v1/runs/${followUp.json.id}/logs`, { token: alice })).text).toBe('again two\n');
  });

  it('follows up, once the run has ended, a message stored for it that its agent never read', async () => {
    const id = await submit({ agent: 'resumable-slow', prompt: 'one' });
    await waitForStatus(server, alice, id, ['running'], 15_000);
    // As a message lands when the agent has stopped reading: stored, not delivered.
    const database = server.app.get(DatabaseService);
    await database.query(database.dataSource.manager, 'INSERT INTO run_messages (id, run_id, prompt, created_at) VALUES (?, ?, ?, ?)', [
      '01a2350f-0000-7000-8000-000000000001',
      id,
      'too late',
      new Date().toISOString(),
    ]);
    expect(await done(id)).toMatchObject({ status: 'succeeded' });
    const followUp = await waitFor(async () => {
      const thread = await server.request('GET', `/api/v1/runs?thread=${id}`, { token: alice });
      return thread.json.items.find((run: Json) => run.parentRunId === id);
    }, 15_000, 'the follow-up');
    expect(followUp).toMatchObject({ prompt: 'too late', agent: 'resumable-slow' });
    expect(await done(followUp.id)).toMatchObject({ status: 'succeeded' });
    expect((await server.request('GET', `/api/v1/runs/${followUp.id}/logs`, { token: alice })).text).toBe('again too late\n');
  });

  it('lets no other user send a message to a run (404 run_not_found)', async () => {
    const id = await submit({ agent: 'fast', prompt: 'mine' });
    await done(id);
    const response = await send(id, 'hello', server.token('bob'));
    expect(response.status).toBe(404);
    expect(response.json.code).toBe('run_not_found');
    expect(existsSync(join(server.dataDir, 'users', 'bob', 'runs'))).toBe(false);
  });
});
