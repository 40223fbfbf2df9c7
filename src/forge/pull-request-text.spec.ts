import { describe, expect, it } from '@jest/globals';
import type { Run } from '../runs/entities/run.entity.js';
import { defaultBody, defaultTitle } from './pull-request-text.js';

const RUN = {
  id: '019ab3f2-6c1e-7d42-9a51-2f0e8c7b1d34',
  agent: 'claude',
  model: 'claude-sonnet-4-5',
  prompt: 'Fix the failing test\n\nIt fails on empty input.',
  startedAt: '2026-11-24T07:09:26.000Z',
  finishedAt: '2026-11-24T07:11:00.000Z',
  result: { summary: 'Fixed the off-by-one in the tokenizer.', costUsd: 0.4213, inputTokens: 51200, outputTokens: 3100, turns: 12 },
} as unknown as Run;

describe('a pull request\'s default title and body', () => {
  it('titles it with the prompt\'s first line that has text, without a heading\'s #s, on one line and at most 120 characters', () => {
    expect(defaultTitle('\n\n  Fix the failing test  \nmore')).toBe('Fix the failing test');
    expect(defaultTitle('# Add login\n\nA login page.')).toBe('Add login');
    expect(defaultTitle('a\tb   c')).toBe('a b c');
    const long = defaultTitle('x'.repeat(300));
    expect(long).toHaveLength(120);
    expect(long.endsWith('…')).toBe(true);
    expect(defaultTitle('   \n  ')).toBe('Changes by Auto Code Server');
  });

  it('sums the run up: what the agent reported, the prompt quoted, agent, duration, cost, and a link back', () => {
    const body = defaultBody(RUN, 'https://autocode.example.com/api/v1/runs/019ab3f2-6c1e-7d42-9a51-2f0e8c7b1d34');
    expect(body.startsWith('Fixed the off-by-one in the tokenizer.\n')).toBe(true);
    expect(body).toContain('> Fix the failing test\n> \n> It fails on empty input.');
    expect(body).toContain('- Agent: `claude` (model `claude-sonnet-4-5`)');
    expect(body).toContain('- Duration: 94 s');
    expect(body).toContain('- Cost: $0.4213, 51200 input tokens, 3100 output tokens, 12 turns');
    expect(body).toContain('- Run: [019ab3f2-6c1e-7d42-9a51-2f0e8c7b1d34](https://autocode.example.com/api/v1/runs/019ab3f2-6c1e-7d42-9a51-2f0e8c7b1d34)');
    expect(body).toContain('branch `autocode/019ab3f2-6c1e-7d42-9a51-2f0e8c7b1d34`');
  });

  it('leaves out what the agent did not report, and cuts a long prompt', () => {
    const body = defaultBody({ ...RUN, model: null, result: null, prompt: 'p'.repeat(10_000) } as Run, 'https://x/r');
    expect(body.startsWith('### Prompt')).toBe(true);
    expect(body).not.toContain('Cost:');
    expect(body).toContain('- Agent: `claude`\n');
    expect(body).toContain('[…cut at 4000 characters]');
    expect(body.length).toBeLessThan(5_000);
  });
});
