import type { RunResult } from '../../runs/entities/run.entity.js';
import type { RunEventType } from '../../runs/entities/run-event.entity.js';
import type { OutputFormat } from '../agent-profiles.js';

export interface ParsedEvent {
  type: RunEventType;
  data: Record<string, unknown>;
}

/** What a parser learned about the run's outcome from the agent's own output. */
export interface ParsedOutcome {
  result?: RunResult;
  error?: { code: string; message: string };
}

export interface OutputParser {
  /** Turns one stdout line into events; may record the outcome. */
  parse(line: string, outcome: ParsedOutcome): ParsedEvent[];
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJsonLine(line: string): Json | null {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return null;
  try {
    const value: unknown = JSON.parse(trimmed);
    return isObject(value) ? value : null;
  } catch {
    return null;
  }
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function compact(result: RunResult): RunResult {
  return Object.fromEntries(Object.entries(result).filter(([, value]) => value !== undefined)) as RunResult;
}

const stdout = (line: string): ParsedEvent => ({ type: 'stdout', data: { line } });

/** Every line is a `stdout` event. */
const textParser: OutputParser = {
  parse: (line) => [stdout(line)],
};

/**
 * JSON lines in the run-event vocabulary: an object whose `type` is `message`,
 * `tool_use`, `tool_result` or `result` becomes that event (`result` also
 * becomes the run's result); any other line stays a `stdout` event.
 */
const jsonlParser: OutputParser = {
  parse(line, outcome) {
    const value = parseJsonLine(line);
    if (!value) return [stdout(line)];
    switch (value.type) {
      case 'message':
        return typeof value.text === 'string' ? [{ type: 'message', data: { text: value.text } }] : [stdout(line)];
      case 'tool_use':
        return typeof value.name === 'string'
          ? [{ type: 'tool_use', data: { name: value.name, input: value.input ?? null } }]
          : [stdout(line)];
      case 'tool_result':
        return [
          {
            type: 'tool_result',
            data: { ...(str(value.name) ? { name: value.name } : {}), ok: value.ok !== false, output: value.output ?? null },
          },
        ];
      case 'result': {
        const result = compact({
          summary: str(value.summary),
          costUsd: num(value.costUsd),
          inputTokens: num(value.inputTokens),
          outputTokens: num(value.outputTokens),
          turns: num(value.turns),
        });
        outcome.result = result;
        return [{ type: 'result', data: { ...result } }];
      }
      default:
        return [stdout(line)];
    }
  },
};

/** Error subtypes of Claude Code's result with a code of our own; the others keep theirs (`error_max_turns`, …). */
const CLAUDE_ERROR_CODES = new Map([
  // The run's budget (the SDK's maxBudgetUsd, Claude Code's --max-budget-usd) is spent.
  ['error_max_budget_usd', 'budget_exceeded'],
]);

/**
 * One Claude Code message (a line of `--output-format stream-json`, or a
 * Claude Agent SDK message: the same objects) as run events: assistant text,
 * tool calls, tool results and the final result, which also records the
 * run's result and, when the agent stopped on an error, its code.
 */
export function claudeMessageEvents(value: Json, outcome: ParsedOutcome): ParsedEvent[] {
  const content = isObject(value.message) && Array.isArray(value.message.content) ? value.message.content : [];
  switch (value.type) {
    case 'assistant':
      return content.filter(isObject).flatMap((block): ParsedEvent[] => {
        if (block.type === 'text' && typeof block.text === 'string') return [{ type: 'message', data: { text: block.text } }];
        if (block.type === 'tool_use') return [{ type: 'tool_use', data: { name: str(block.name) ?? 'unknown', input: block.input ?? null } }];
        return [];
      });
    case 'user':
      return content
        .filter((block) => isObject(block) && block.type === 'tool_result')
        .map((block) => ({
          type: 'tool_result' as const,
          data: { ok: (block as Json).is_error !== true, output: (block as Json).content ?? null },
        }));
    case 'result': {
      const usage = isObject(value.usage) ? value.usage : {};
      const result = compact({
        summary: str(value.result),
        costUsd: num(value.total_cost_usd),
        inputTokens: num(usage.input_tokens),
        outputTokens: num(usage.output_tokens),
        turns: num(value.num_turns),
      });
      outcome.result = result;
      const subtype = str(value.subtype) ?? '';
      if (value.is_error === true || subtype.startsWith('error')) {
        // Error subtypes (error_max_turns, error_during_execution, …) carry `errors`; a failed `success` carries its text in `result`.
        const errors = Array.isArray(value.errors) ? value.errors.filter((error): error is string => typeof error === 'string') : [];
        outcome.error = {
          code: CLAUDE_ERROR_CODES.get(subtype) ?? (subtype.startsWith('error') ? subtype : 'agent_error'),
          message: str(value.result) ?? (errors.length > 0 ? errors.join('; ') : `the agent stopped with ${subtype || 'an error'}`),
        };
      }
      return [{ type: 'result', data: { ...result } }];
    }
    default:
      return [];
  }
}

/** Claude Code's `--output-format stream-json`. */
const claudeStreamParser: OutputParser = {
  parse(line, outcome) {
    const value = parseJsonLine(line);
    return value ? claudeMessageEvents(value, outcome) : [stdout(line)];
  },
};

export function outputParser(format: OutputFormat): OutputParser {
  switch (format) {
    case 'text':
      return textParser;
    case 'jsonl':
      return jsonlParser;
    case 'claude-stream-json':
      return claudeStreamParser;
  }
}
