import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';

// The committed openapi.json passes redocly's `recommended` rules (redocly.yaml) and spectral's
// `spectral:oas` ruleset (.spectral.yaml) without a single problem, as `npm run lint:openapi` checks.
// Both run offline: neither config fetches a remote ruleset, and telemetry is off.

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'node_modules', '.bin');

function lint(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(join(BIN, command), args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
  });
  return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
}

describe('openapi.json lint', () => {
  it('has no redocly problem, errors or warnings', () => {
    const { status, output } = lint('redocly', ['lint', '--format=summary', '--max-problems=100', 'openapi.json']);
    expect(status, output).toBe(0);
    expect(output, output).toMatch(/Your API description is valid/);
    expect(output, output).not.toMatch(/You have \d+ warnings?/);
  });

  it('has no spectral problem of any severity', () => {
    const { status, output } = lint('spectral', ['lint', '--fail-severity=hint', '--format=text', 'openapi.json']);
    expect(status, output).toBe(0);
    expect(output, output).toMatch(/No results with a severity of 'hint' or higher found/);
  });
});
