import { describe, expect, it } from '@jest/globals';
import { LineSplitter, MAX_LINE_CHARS } from './line-splitter.js';
import { outputParser, type ParsedOutcome } from './output-parsers.js';

describe('LineSplitter', () => {
  function split(chunks: Buffer[]): string[] {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    for (const chunk of chunks) splitter.push(chunk);
    splitter.end();
    return lines;
  }

  it('splits on LF and CRLF across chunk boundaries and keeps a last unterminated line', () => {
    expect(split([Buffer.from('a\r\nb'), Buffer.from('c\n\nd')])).toEqual(['a', 'bc', '', 'd']);
  });

  it('decodes a UTF-8 character split between chunks', () => {
    const bytes = Buffer.from('é\n');
    expect(split([bytes.subarray(0, 1), bytes.subarray(1)])).toEqual(['é']);
  });

  it('cuts an endless line into bounded pieces', () => {
    const lines = split([Buffer.from('x'.repeat(MAX_LINE_CHARS * 2 + 10))]);
    expect(lines.map((line) => line.length)).toEqual([MAX_LINE_CHARS, MAX_LINE_CHARS, 10]);
  });
});

describe('output parsers', () => {
  it('text: every line is stdout', () => {
    expect(outputParser('text').parse('{"type":"message","text":"x"}', {})).toEqual([
      { type: 'stdout', data: { line: '{"type":"message","text":"x"}' } },
    ]);
  });

  it('jsonl: known event types become events, anything else stays stdout', () => {
    const parser = outputParser('jsonl');
    const outcome: ParsedOutcome = {};
    expect(parser.parse('{"type":"message","text":"hi"}', outcome)).toEqual([{ type: 'message', data: { text: 'hi' } }]);
    expect(parser.parse('{"type":"unknown"}', outcome)[0]!.type).toBe('stdout');
    expect(parser.parse('not json {', outcome)[0]!.type).toBe('stdout');
    expect(parser.parse('[1,2]', outcome)[0]!.type).toBe('stdout');
    parser.parse('{"type":"result","summary":"ok","costUsd":"free","turns":2}', outcome);
    expect(outcome.result).toEqual({ summary: 'ok', turns: 2 });
  });

  it('claude-stream-json: assistant text and tools, tool results, and an error result', () => {
    const parser = outputParser('claude-stream-json');
    const outcome: ParsedOutcome = {};
    expect(parser.parse('{"type":"system","subtype":"init"}', outcome)).toEqual([]);
    expect(
      parser.parse(
        JSON.stringify({
          type: 'assistant',
          message: { content: [{ type: 'text', text: 'Reading' }, { type: 'tool_use', name: 'Read', input: { file_path: 'a.ts' } }] },
        }),
        outcome,
      ),
    ).toEqual([
      { type: 'message', data: { text: 'Reading' } },
      { type: 'tool_use', data: { name: 'Read', input: { file_path: 'a.ts' } } },
    ]);
    expect(
      parser.parse(JSON.stringify({ type: 'user', message: { content: [{ type: 'tool_result', content: 'data', is_error: true }] } }), outcome),
    ).toEqual([{ type: 'tool_result', data: { ok: false, output: 'data' } }]);
    parser.parse(
      JSON.stringify({
        type: 'result',
        subtype: 'error_max_turns',
        is_error: true,
        result: 'stopped',
        total_cost_usd: 0.5,
        num_turns: 50,
        usage: { input_tokens: 10, output_tokens: 20 },
      }),
      outcome,
    );
    expect(outcome.result).toEqual({ summary: 'stopped', costUsd: 0.5, inputTokens: 10, outputTokens: 20, turns: 50 });
    expect(outcome.error).toEqual({ code: 'error_max_turns', message: 'stopped' });
  });
});
