import type { Run, RunEvent } from '@autocode/client';

/** How `run`, `runs logs -f` and `runs wait` print: a terminal's coloured lines, plain lines, or JSON lines. */
export type OutputMode = 'terminal' | 'plain' | 'json';

export function outputMode(json: boolean | undefined, stream: NodeJS.WriteStream = process.stdout): OutputMode {
  if (json) return 'json';
  return stream.isTTY ? 'terminal' : 'plain';
}

/** Colour only on a terminal, and never when `NO_COLOR` is set (no-color.org). */
function palette(mode: OutputMode): Record<'dim' | 'red' | 'green' | 'yellow' | 'cyan' | 'bold', (text: string) => string> {
  const on = mode === 'terminal' && !process.env.NO_COLOR;
  const paint = (code: number) => (text: string) => (on ? `\u001b[${code}m${text}\u001b[0m` : text);
  return { dim: paint(2), red: paint(31), green: paint(32), yellow: paint(33), cyan: paint(36), bold: paint(1) };
}

const STATUS_COLOUR: Record<string, 'green' | 'red' | 'yellow' | 'cyan'> = {
  queued: 'cyan',
  running: 'cyan',
  succeeded: 'green',
  failed: 'red',
  timed_out: 'red',
  interrupted: 'yellow',
  cancelled: 'yellow',
};

function oneLine(value: unknown, max = 120): string {
  const text = (typeof value === 'string' ? value : JSON.stringify(value) ?? '').replace(/\s+/g, ' ').trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The first thing a tool was asked, as one line: Bash's command, a file's path, or the whole input. */
function toolSummary(input: unknown): string {
  if (input && typeof input === 'object') {
    const fields = input as Record<string, unknown>;
    for (const key of ['command', 'file_path', 'path', 'pattern', 'url', 'description']) {
      if (typeof fields[key] === 'string') return oneLine(fields[key]);
    }
  }
  return oneLine(input);
}

export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return minutes < 60 ? `${minutes}m${String(seconds).padStart(2, '0')}s` : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/**
 * Prints a run's events as they arrive. The agent's stdout goes to stdout and its stderr to
 * stderr; what the CLI says about the run (status changes, tool uses, the summary) goes to
 * stderr, so `autocode run … > out.txt` keeps the agent's output alone. With `--json`, every
 * event is one JSON line on stdout, then the final run.
 */
export class RunPrinter {
  private readonly colour: ReturnType<typeof palette>;
  private readonly startedAt = Date.now();

  constructor(
    private readonly mode: OutputMode,
    private readonly out: NodeJS.WritableStream = process.stdout,
    private readonly err: NodeJS.WritableStream = process.stderr,
  ) {
    this.colour = palette(mode);
  }

  private elapsed(): string {
    return this.colour.dim(`[${formatDuration(Date.now() - this.startedAt).padStart(6)}]`);
  }

  /** A line about the run, not from the agent. */
  note(text: string): void {
    if (this.mode === 'json') return;
    this.err.write(`${this.elapsed()} ${text}\n`);
  }

  event(event: RunEvent): void {
    if (this.mode === 'json') {
      this.out.write(JSON.stringify(event) + '\n');
      return;
    }
    const data = event.data as Record<string, unknown>;
    const { dim, cyan, red } = this.colour;
    switch (event.type) {
      case 'status': {
        const status = String(data.status);
        const reason = typeof data.reason === 'string' ? dim(` (${data.reason})`) : '';
        this.note(`${this.colour[STATUS_COLOUR[status] ?? 'cyan'](status)}${reason}`);
        break;
      }
      case 'stdout':
        this.out.write(`${data.line}\n`);
        break;
      case 'stderr':
        this.err.write(`${this.mode === 'terminal' ? red(String(data.line)) : data.line}\n`);
        break;
      case 'message':
        this.out.write(`${data.text}\n`);
        break;
      case 'tool_use':
        this.note(`${cyan('tool')} ${data.name} ${dim(toolSummary(data.input))}`);
        break;
      case 'tool_result':
        if (data.ok === false) this.note(`${red('tool error')} ${typeof data.name === 'string' ? `${data.name} ` : ''}${dim(oneLine(data.output))}`);
        break;
      case 'user_message':
        this.note(`${cyan('message')} ${dim(oneLine(data.prompt))}`);
        break;
      case 'approval_requested':
        this.note(`${this.colour.yellow('approval asked')} ${data.tool} ${dim(toolSummary(data.input))} ${dim(`(${data.approvalId})`)}`);
        break;
      case 'approval_decided': {
        const decided = data.decision === 'allow' ? this.colour.green('allowed') : red('denied');
        this.note(`${decided} by ${data.by}${typeof data.message === 'string' ? dim(`: ${oneLine(data.message)}`) : ''}`);
        break;
      }
      default:
        break;
    }
  }

  /** The last word: the final run as JSON, or a summary line. */
  summary(run: Run, filesChanged: number | null): void {
    if (this.mode === 'json') {
      this.out.write(JSON.stringify(run) + '\n');
      return;
    }
    const parts = [this.colour.bold(this.colour[STATUS_COLOUR[run.status] ?? 'cyan'](run.status))];
    if (run.durationMs !== null) parts.push(formatDuration(run.durationMs));
    const cost = costOf(run);
    if (cost) parts.push(cost);
    if (filesChanged !== null) parts.push(`${filesChanged} file${filesChanged === 1 ? '' : 's'} changed`);
    if (run.error) parts.push(`${run.error.code}: ${run.error.message}`);
    parts.push(`run ${run.id}`);
    this.err.write(`${parts.join(' · ')}\n`);
  }
}

/** What a run cost, as far as its agent reported it: dollars and tokens, or null when it reported neither. */
export function costOf(run: Run): string | null {
  const { costUsd, inputTokens, outputTokens } = run.result ?? {};
  const parts = [
    ...(costUsd === undefined ? [] : [`$${costUsd.toFixed(4)}`]),
    ...(inputTokens === undefined && outputTokens === undefined ? [] : [`${inputTokens ?? 0} tokens in, ${outputTokens ?? 0} out`]),
  ];
  return parts.length > 0 ? parts.join(' · ') : null;
}

/** How many files a unified diff touches. */
export function countDiffFiles(diff: string): number {
  return diff.split('\n').filter((line) => line.startsWith('diff --git ')).length;
}
