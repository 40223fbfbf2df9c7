import { describe, expect, it } from '@jest/globals';
import type { CanUseTool } from '@anthropic-ai/claude-agent-sdk';
import { BUILT_IN_PROFILES, type ClaudeProfile } from '../agent-profiles.js';
import { approvalOptions, type RequestApproval } from './approval-gate.js';

const claude = BUILT_IN_PROFILES.find((profile) => profile.name === 'claude') as ClaudeProfile;
const gated: ClaudeProfile = { ...claude, allowedTools: ['Read', 'Write', 'Bash(git diff:*)', 'Bash'], approvals: { tools: ['Bash', 'Write'], timeoutSeconds: 60, onTimeout: 'deny' } };

function ask(canUseTool: CanUseTool | undefined, tool: string, input: Record<string, unknown> = {}): ReturnType<CanUseTool> {
  return canUseTool!(tool, input, { signal: new AbortController().signal, toolUseID: 'toolu_1', requestId: 'req_1' });
}

describe('approval gate options', () => {
  it('adds nothing to a profile without approvals, or without a way to ask', () => {
    const never: RequestApproval = async () => ({ decision: 'allow' });
    expect(approvalOptions(claude, never, new AbortController().signal)).toEqual({});
    expect(approvalOptions(gated, undefined, new AbortController().signal)).toEqual({});
  });

  it("drops the gated tools' allow rules and asks for them, so neither allowedTools nor acceptEdits lets them through", () => {
    const options = approvalOptions(gated, async () => ({ decision: 'allow' }), new AbortController().signal);
    expect(options).toMatchObject({ allowedTools: ['Read'], settings: { permissions: { ask: ['Bash', 'Write'] } } });
    expect(typeof (options as { canUseTool?: unknown }).canUseTool).toBe('function');
  });

  it('asks for a gated call and answers with the decision; a denial carries its message', async () => {
    const asked: { tool: string; input: Record<string, unknown> }[] = [];
    let answer: Awaited<ReturnType<RequestApproval>> = { decision: 'allow' };
    const { canUseTool } = approvalOptions(gated, async (tool, input) => (asked.push({ tool, input }), answer), new AbortController().signal) as { canUseTool?: CanUseTool };
    expect(await ask(canUseTool, 'Bash', { command: 'ls' })).toEqual({ behavior: 'allow', updatedInput: { command: 'ls' } });
    answer = { decision: 'deny', message: 'not today' };
    expect(await ask(canUseTool, 'Write', { file_path: 'x' })).toEqual({ behavior: 'deny', message: 'not today' });
    answer = { decision: 'deny' };
    expect(await ask(canUseTool, 'Bash')).toEqual({ behavior: 'deny', message: 'a reviewer denied this Bash call' });
    expect(asked.map((call) => call.tool)).toEqual(['Bash', 'Write', 'Bash']);
  });

  it('refuses, without asking anyone, a call of a tool that is neither allowed nor gated (as without a callback)', async () => {
    let asked = 0;
    const { canUseTool } = approvalOptions(gated, async () => (asked++, { decision: 'allow' }), new AbortController().signal) as { canUseTool?: CanUseTool };
    expect(await ask(canUseTool, 'WebFetch')).toMatchObject({ behavior: 'deny', message: expect.stringContaining('WebFetch is not allowed for this agent') });
    expect(asked).toBe(0);
  });

  it("hands the wait a signal that ends with the run's", async () => {
    const run = new AbortController();
    let seen: AbortSignal | null = null;
    const { canUseTool } = approvalOptions(gated, async (_tool, _input, signal) => ((seen = signal), { decision: 'deny' }), run.signal) as { canUseTool?: CanUseTool };
    await ask(canUseTool, 'Bash');
    expect(seen!.aborted).toBe(false);
    run.abort();
    expect(seen!.aborted).toBe(true);
  });
});
