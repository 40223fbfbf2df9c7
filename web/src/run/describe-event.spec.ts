import type { RunEvent } from '@autocode/client';
import { describe, expect, it } from '@jest/globals';
import { describeEvent } from './describe-event';

const event = (type: string, data: Record<string, unknown>): RunEvent => ({ seq: 1, ts: '2026-01-01T00:00:00.000Z', type, data }) as RunEvent;

describe('describeEvent', () => {
  it('shows a message sent to the run as its text', () => {
    expect(describeEvent(event('user_message', { prompt: 'Now add tests' }))).toBe('Now add tests');
    expect(describeEvent(event('user_message', { prompt: 'x'.repeat(300) }))).toBe(`${'x'.repeat(200)}…`);
  });

  it('names the tool an approval is asked for, with its input', () => {
    expect(describeEvent(event('approval_requested', { approvalId: 'a', tool: 'Bash', input: { command: 'ls' } }))).toBe('Approval asked: Bash {"command":"ls"}');
  });

  it('says who allowed or denied a call, and the reason given', () => {
    expect(describeEvent(event('approval_decided', { approvalId: 'a', decision: 'allow', by: 'alice' }))).toBe('Allowed by alice');
    expect(describeEvent(event('approval_decided', { approvalId: 'a', decision: 'deny', by: 'timeout' }))).toBe('Denied by timeout');
    expect(describeEvent(event('approval_decided', { approvalId: 'a', decision: 'deny', by: 'bob', message: 'not here' }))).toBe('Denied by bob: not here');
  });

  it('keeps the status and tool lines it had', () => {
    expect(describeEvent(event('status', { status: 'failed', reason: 'exit 1' }))).toBe('status failed (exit 1)');
    expect(describeEvent(event('tool_result', { name: 'Read', ok: true, output: 'fine' }))).toBe('Read ok: fine');
  });
});
