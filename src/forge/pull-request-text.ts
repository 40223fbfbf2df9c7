import type { Run } from '../runs/entities/run.entity.js';

const MAX_TITLE_CHARS = 120;
/** The prompt quoted in a body: enough to know what was asked, well under the forges' 65,536-character limit. */
const MAX_QUOTED_PROMPT_CHARS = 4_000;
const MAX_SUMMARY_CHARS = 8_000;

/** The prompt's first line with text, without a Markdown heading's `#`s (a spec's first line is its `# Title`). */
export function defaultTitle(prompt: string): string {
  const line = prompt.split(/\r?\n|\r/).find((candidate) => candidate.trim().length > 0) ?? 'Changes by Auto Code Server';
  const title = line.trim().replace(/^#+\s*/, '').replace(/\s+/g, ' ') || 'Changes by Auto Code Server';
  return title.length > MAX_TITLE_CHARS ? `${title.slice(0, MAX_TITLE_CHARS - 1)}…` : title;
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}\n[…cut at ${max} characters]` : text;
}

/** The default body: what the agent reported, what it was asked, what it cost, and a link back to the run. */
export function defaultBody(run: Run, runUrl: string): string {
  const result = run.result;
  const lines: string[] = [];
  if (result?.summary) lines.push(cut(result.summary.trim(), MAX_SUMMARY_CHARS), '');
  lines.push('### Prompt', '', ...cut(run.prompt.trim(), MAX_QUOTED_PROMPT_CHARS).split(/\r?\n|\r/).map((line) => `> ${line}`), '');
  const facts: string[] = [`- Agent: \`${run.agent}\`${run.model ? ` (model \`${run.model}\`)` : ''}`];
  if (run.startedAt && run.finishedAt) facts.push(`- Duration: ${Math.round((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000)} s`);
  const usage = [
    result?.costUsd !== undefined ? `$${result.costUsd.toFixed(4)}` : null,
    result?.inputTokens !== undefined ? `${result.inputTokens} input tokens` : null,
    result?.outputTokens !== undefined ? `${result.outputTokens} output tokens` : null,
    result?.turns !== undefined ? `${result.turns} turns` : null,
  ].filter((part): part is string => part !== null);
  if (usage.length > 0) facts.push(`- Cost: ${usage.join(', ')}`);
  facts.push(`- Run: [${run.id}](${runUrl})`);
  lines.push('### Run', '', ...facts, '', `Opened by Auto Code Server from branch \`autocode/${run.id}\`.`);
  return lines.join('\n');
}
