import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { startAnthropicStub, useStubForClaude, type AnthropicStub, type StubTurn } from './fixtures/anthropic-stub.js';
import { autocode, clientEnv, startCli } from './helpers/autocode.js';
import { DIST, disposeTestServer, FIXTURE_AGENTS, startTestServer, waitFor, type TestServer } from './helpers/test-server.js';

// `autocode run --continue` and approvals from the CLI: the built CLI in a child process against a
// real server, whose claude agents talk to the stand-in for the Messages API.

const SCRIPTS: Record<string, StubTurn[]> = {
  'cli-allow': [{ text: 'Writing it.', tool: 'Bash', input: { command: 'echo approved > allowed.txt', description: 'write a file' } }, { text: 'Wrote allowed.txt.' }],
  'cli-ask': [{ tool: 'Bash', input: { command: 'echo asked > asked.txt', description: 'write a file' } }, { text: 'I will leave it.' }],
  'cli-deny': [{ tool: 'Bash', input: { command: 'echo nope > denied.txt', description: 'write a file' } }, { text: 'Understood, I will not.' }],
};

const AGENTS = {
  ...FIXTURE_AGENTS,
  talk: { executor: 'command', command: ['/bin/echo', 'first {prompt}'], resumeCommand: ['/bin/echo', 'again {prompt}'] },
  gated: { executor: 'claude', maxTurns: 5, allowedTools: ['Read', 'Bash'], approvals: { tools: ['Bash'], timeoutSeconds: 60 } },
};

const RUN_ID = /run ([0-9a-f-]{36})/;
/** script(1), from util-linux, gives a command a terminal; without it the terminal test is skipped. */
const hasScript = spawnSync('script', ['--version']).status === 0;

describe('autocode run --continue, and approvals from the CLI', () => {
  let stub: AnthropicStub;
  let server: TestServer;
  let home: string;
  let env: Record<string, string>;
  let restoreEnv: () => void = () => {};

  beforeAll(async () => {
    stub = await startAnthropicStub(SCRIPTS);
    restoreEnv = useStubForClaude(stub);
    server = await startTestServer({ agents: AGENTS });
    home = mkdtempSync(join(tmpdir(), 'autocode-talk-'));
    env = clientEnv(home, { url: server.url, token: server.token('tess') });
  });
  afterAll(async () => {
    await disposeTestServer(server);
    await stub.close();
    rmSync(home, { recursive: true, force: true });
    restoreEnv();
  });

  it('--continue sends a finished run a follow-up, follows it and exits with its outcome', async () => {
    const first = await autocode(env, ['run', '--agent', 'talk', 'hello']);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toBe('first hello\n');
    const parent = RUN_ID.exec(first.stderr)![1]!;
    const next = await autocode(env, ['run', '--continue', parent, 'and more']);
    expect(next.status, next.stderr).toBe(0);
    expect(next.stdout).toBe('again and more\n');
    expect(next.stderr).toContain(`follows up ${parent}`);
    const child = RUN_ID.exec(next.stderr)![1]!;
    const shown = await server.request('GET', `/api/v1/runs/${child}`, { token: server.token('tess') });
    expect(shown.json).toMatchObject({ parentRunId: parent, status: 'succeeded' });
    const show = await autocode(env, ['runs', 'show', child]);
    expect(show.stdout).toContain(`follows:   ${parent}\n`);
  });

  it('--continue refuses what a follow-up takes from its run (2), and a profile that cannot take one (1)', async () => {
    const first = await autocode(env, ['run', '--agent', 'fast', 'one']);
    const parent = RUN_ID.exec(first.stderr)![1]!;
    const mixed = await autocode(env, ['run', '--continue', parent, '--agent', 'fast', '--timeout', '5', 'two']);
    expect(mixed.status).toBe(2);
    expect(mixed.stderr).toContain('--agent, --timeout cannot go with --continue');
    const unsupported = await autocode(env, ['run', '--continue', parent, 'two']);
    expect(unsupported.status).toBe(1);
    expect(unsupported.stderr).toContain('follow_up_unsupported');
  });

  it('--approve-all allows the tool call the agent asks about, and the run succeeds', async () => {
    const result = await autocode(env, ['run', '--agent', 'gated', '--approve-all', '[script:cli-allow] write a file'], { timeoutMs: 90_000 });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/approval asked Bash/);
    expect(result.stderr).toContain('allowed Bash (--approve-all)');
    expect(result.stderr).toMatch(/allowed by tess/);
    const id = RUN_ID.exec(result.stderr)![1]!;
    expect(existsSync(join(server.dataDir, 'users', 'tess', 'runs', id, 'allowed.txt'))).toBe(true);
  });

  it('without a terminal, run says how to decide; runs deny decides, and the agent reads the reason', async () => {
    const following = startCli(env, ['run', '--agent', 'gated', '[script:cli-deny] write a file'], { timeoutMs: 90_000 });
    const hint = await waitFor(() => /autocode runs deny ([0-9a-f-]{36}) ([0-9a-f-]{36})/.exec(following.stderr()) ?? undefined, 60_000, 'the hint to decide');
    const show = await autocode(env, ['runs', 'show', hint[1]!]);
    expect(show.stdout).toContain(`waits on:  approval of Bash until `);
    expect(show.stdout).toContain(`autocode runs approve|deny ${hint[1]} ${hint[2]}`);
    const denied = await autocode(env, ['runs', 'deny', hint[1]!, hint[2]!, '--message', 'not on this branch']);
    expect(denied.status, denied.stderr).toBe(0);
    expect(denied.stdout).toMatch(/^denied; run .* is running\n$/);
    const again = await autocode(env, ['runs', 'approve', hint[1]!, hint[2]!]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('approval_closed');
    const result = await following.result;
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/denied by tess: not on this branch/);
    expect(existsSync(join(server.dataDir, 'users', 'tess', 'runs', hint[1]!, 'denied.txt'))).toBe(false);
  });

  (hasScript ? it : it.skip)('at a terminal, run asks; an answer other than y denies with it as the reason', async () => {
    // script(1) gives the CLI a terminal; what the test writes is typed at it.
    const command = `${process.execPath} ${join(DIST, 'cli.js')} run --agent gated '[script:cli-ask] write a file'`;
    const session = spawn('script', ['-qefc', command, '/dev/null'], { env, stdio: 'pipe' });
    let output = '';
    session.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => session.on('close', resolve));
    await waitFor(() => output.includes('allow Bash?'), 60_000, 'the question');
    session.stdin.write('no, not today\r');
    expect(await exited).toBe(0);
    // A terminal gets colours.
    const plain = output.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');
    expect(plain, plain).toContain('allow Bash? [y = allow, n = deny, or type why you deny it]');
    expect(plain, plain).toMatch(/denied by tess: no, not today/);
    expect(plain, plain).toMatch(/succeeded · /);
  });
});
