import { afterEach, describe, expect, it } from '@jest/globals';
import { BUILT_IN_PROFILES, type ClaudeProfile } from '../agent-profiles.js';
import type { SandboxService } from '../../sandbox/sandbox.service.js';
import { ClaudeExecutor, claudeOptions } from './claude.executor.js';
import type { SessionTranscripts } from './session-store.js';
import type { ExecutionRequest } from './executor.js';
import { claudeMessageEvents, type ParsedEvent, type ParsedOutcome } from './output-parsers.js';

const profile: ClaudeProfile = {
  name: 'reviewer',
  executor: 'claude',
  description: 'Reviews',
  env: ['GITHUB_TOKEN'],
  timeoutSeconds: null,
  model: 'profile-model',
  maxTurns: 7,
  allowedTools: ['Read', 'Bash(git diff:*)'],
  disallowedTools: ['WebFetch'],
  permissionMode: 'acceptEdits',
  appendSystemPrompt: 'Be brief.',
  approvals: null,
  sandbox: true,
  network: true,
  limits: {},
  readOnlyPaths: [],
};

function request(overrides: Partial<ExecutionRequest<ClaudeProfile>> = {}): ExecutionRequest<ClaudeProfile> {
  return { runId: 'r1', userId: 'alice', prompt: 'p', model: null, profile, cwd: '/w', home: '/h', readOnly: [], limits: { processes: null, openFiles: null, fileSizeMb: null, addressSpaceMb: null }, graceMs: 1000, onEvent: () => {}, ...overrides };
}

describe('claude executor options', () => {
  const server = {
    PATH: '/bin',
    LANG: 'C.UTF-8',
    HOME: '/root',
    GITHUB_TOKEN: 'gh',
    ANTHROPIC_API_KEY: 'sk-ant',
    ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
    JWT_SECRET: 'secret',
    DATABASE_URL: 'postgres://db',
    REDIS_URL: 'redis://r',
    AGENTS_FILE: '/etc/agents.yaml',
    OTHER: 'no',
  };

  it('maps the profile and the run onto the SDK options', () => {
    const options = claudeOptions(request(), server);
    expect(options).toMatchObject({
      cwd: '/w',
      model: 'profile-model',
      maxTurns: 7,
      allowedTools: ['Read', 'Bash(git diff:*)'],
      disallowedTools: ['WebFetch'],
      permissionMode: 'acceptEdits',
      systemPrompt: { type: 'preset', preset: 'claude_code', append: 'Be brief.' },
      persistSession: false,
    });
    expect(options.allowDangerouslySkipPermissions).toBeUndefined();
    expect(claudeOptions(request({ model: 'run-model' }), server).model).toBe('run-model');
  });

  it("passes the run's budget as the SDK's maxBudgetUsd, and none when the run has none", () => {
    expect(claudeOptions(request({ budgetUsd: 0.25 }), server).maxBudgetUsd).toBe(0.25);
    expect(claudeOptions(request(), server)).not.toHaveProperty('maxBudgetUsd');
  });

  it("leaves what the profile does not set to Claude Code's defaults", () => {
    const bare = { ...profile, model: null, maxTurns: null, allowedTools: null, appendSystemPrompt: null };
    const options = claudeOptions(request({ profile: bare }), server);
    expect(options).not.toHaveProperty('model');
    expect(options).not.toHaveProperty('maxTurns');
    expect(options).not.toHaveProperty('allowedTools');
    expect(options.systemPrompt).toEqual({ type: 'preset', preset: 'claude_code' });
  });

  it('passes the allowlist, the profile env and the API credentials, and none of the server secrets', () => {
    expect(claudeOptions(request(), server).env).toEqual({
      PATH: '/bin',
      LANG: 'C.UTF-8',
      HOME: '/h',
      GITHUB_TOKEN: 'gh',
      ANTHROPIC_API_KEY: 'sk-ant',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
      AUTOCODE_PROMPT: 'p',
      AUTOCODE_RUN_ID: 'r1',
      AUTOCODE_WORKSPACE: '/w',
    });
  });

  it('opts in to bypassPermissions only when the profile asks for it', () => {
    const options = claudeOptions(request({ profile: { ...profile, permissionMode: 'bypassPermissions' } }), server);
    expect(options).toMatchObject({ permissionMode: 'bypassPermissions', allowDangerouslySkipPermissions: true });
  });
});

describe('claude executor without a credential', () => {
  const saved = { ANTHROPIC_API_KEY: process.env.ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN: process.env.CLAUDE_CODE_OAUTH_TOKEN };
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('fails at once with agent_not_configured, naming the variables to set', async () => {
    delete process.env.ANTHROPIC_API_KEY;
    delete process.env.CLAUDE_CODE_OAUTH_TOKEN;
    const claude = BUILT_IN_PROFILES.find((p): p is ClaudeProfile => p.name === 'claude')!;
    const execution = await new ClaudeExecutor({} as SandboxService, {} as SessionTranscripts).start(request({ profile: claude }));
    expect(execution.pgid).toBeNull();
    const outcome = await execution.finished;
    expect(outcome.spawnError).toEqual({
      code: 'agent_not_configured',
      message: 'the "claude" agent needs ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN in the server\'s environment',
    });
  });
});

// SDK messages as the Claude Agent SDK yields them (shapes recorded from a real session, trimmed).
const session = [
  { type: 'system', subtype: 'init', cwd: '/w', session_id: 's', tools: ['Bash', 'Write'], model: 'claude-sonnet-4-5', permissionMode: 'acceptEdits' },
  { type: 'assistant', message: { role: 'assistant', content: [{ type: 'text', text: 'Writing' }] }, parent_tool_use_id: null, session_id: 's' },
  {
    type: 'assistant',
    message: { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'Write', input: { file_path: 'a.txt', content: 'hi' } }] },
    parent_tool_use_id: null,
    session_id: 's',
  },
  {
    type: 'user',
    message: { role: 'user', content: [{ tool_use_id: 't1', type: 'tool_result', content: 'File created successfully at: a.txt' }] },
    parent_tool_use_id: null,
    session_id: 's',
    tool_use_result: { type: 'create', filePath: 'a.txt' },
  },
  {
    type: 'user',
    message: { role: 'user', content: [{ tool_use_id: 't2', type: 'tool_result', content: [{ type: 'text', text: 'no such file' }], is_error: true }] },
    parent_tool_use_id: null,
    session_id: 's',
  },
  { type: 'assistant', message: { role: 'assistant', content: [{ type: 'thinking', thinking: '…' }, { type: 'text', text: 'All done' }] }, session_id: 's' },
  {
    type: 'result',
    subtype: 'success',
    is_error: false,
    duration_ms: 800,
    num_turns: 2,
    result: 'All done',
    total_cost_usd: 0.00243,
    usage: { input_tokens: 240, output_tokens: 60, cache_read_input_tokens: 0 },
    session_id: 's',
  },
];

function replay(messages: Record<string, unknown>[]): { events: ParsedEvent[]; outcome: ParsedOutcome } {
  const outcome: ParsedOutcome = {};
  return { events: messages.flatMap((message) => claudeMessageEvents(message, outcome)), outcome };
}

describe('claude message mapping', () => {
  it('turns a session into message, tool_use, tool_result and result events, and the run result', () => {
    const { events, outcome } = replay(session);
    expect(events).toEqual([
      { type: 'message', data: { text: 'Writing' } },
      { type: 'tool_use', data: { name: 'Write', input: { file_path: 'a.txt', content: 'hi' } } },
      { type: 'tool_result', data: { ok: true, output: 'File created successfully at: a.txt' } },
      { type: 'tool_result', data: { ok: false, output: [{ type: 'text', text: 'no such file' }] } },
      { type: 'message', data: { text: 'All done' } },
      { type: 'result', data: { summary: 'All done', costUsd: 0.00243, inputTokens: 240, outputTokens: 60, turns: 2 } },
    ]);
    expect(outcome).toEqual({ result: { summary: 'All done', costUsd: 0.00243, inputTokens: 240, outputTokens: 60, turns: 2 } });
  });

  it.each([
    ['error_max_turns', ['Reached maximum number of turns (1)'], 'error_max_turns', 'Reached maximum number of turns (1)'],
    ['error_during_execution', [], 'error_during_execution', 'the agent stopped with error_during_execution'],
    ['error_max_budget_usd', ['over budget', 'stopped'], 'budget_exceeded', 'over budget; stopped'],
  ])('records an %s result as the run error', (subtype, errors, code, message) => {
    const { events, outcome } = replay([
      { type: 'result', subtype, is_error: true, num_turns: 1, total_cost_usd: 0.002, usage: { input_tokens: 120, output_tokens: 30 }, errors },
    ]);
    expect(events).toEqual([{ type: 'result', data: { costUsd: 0.002, inputTokens: 120, outputTokens: 30, turns: 1 } }]);
    expect(outcome.error).toEqual({ code, message });
  });

  it('records a success result that is an error (an API error) as agent_error with its text', () => {
    const { outcome } = replay([{ type: 'result', subtype: 'success', is_error: true, result: 'API Error: 401 invalid x-api-key', num_turns: 1 }]);
    expect(outcome.error).toEqual({ code: 'agent_error', message: 'API Error: 401 invalid x-api-key' });
  });
});
