/** Prints rows as an aligned plain-text table. */
export function printTable(rows: Record<string, string>[], columns: string[]): void {
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]): string => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(line(columns.map((c) => c.toUpperCase())) + '\n');
  for (const row of rows) process.stdout.write(line(columns.map((c) => row[c] ?? '')) + '\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** A failure the user can act on: printed as one line, exit status 1. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function parsePositiveInt(value: string, name: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new CliError(`${name} must be a positive whole number, got "${value}"`, 2);
  }
  return Number(value);
}
