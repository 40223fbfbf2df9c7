import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { git, GitError } from './git.js';

describe('git', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'autocode-git-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses transports that were not allowed, even if a URL got that far', async () => {
    const marker = join(dir, 'pwned');
    const attempt = git(['clone', '--', `ext::sh -c touch% ${marker}`, join(dir, 'clone')], { protocols: ['file', 'https'] });
    await expect(attempt).rejects.toBeInstanceOf(GitError);
    await expect(attempt).rejects.toThrow(/transport 'ext' not allowed/);
    expect(existsSync(marker)).toBe(false);
  });

  it("reports git's own message, and exit codes that are answers", async () => {
    await expect(git(['rev-parse', '--verify', 'HEAD'], { cwd: dir })).rejects.toThrow(/not a git repository/);
    await git(['init', '--quiet', '--', dir]);
    const head = await git(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], { cwd: dir, okExitCodes: [1] });
    expect(head.exitCode).toBe(1);
  });

  it('never finds a repository above its working directory', async () => {
    await git(['init', '--quiet', '--', dir]);
    const inner = join(dir, 'inner');
    mkdirSync(inner);
    await expect(git(['rev-parse', '--git-dir'], { cwd: inner })).rejects.toThrow(/not a git repository/);
    expect((await git(['rev-parse', '--git-dir'], { cwd: dir })).stdout.trim()).toBe('.git');
  });

  it('cuts off or refuses output past its limit', async () => {
    const full = (await git(['version', '--build-options'])).stdout;
    expect(full.length).toBeGreaterThan(20);
    const cut = await git(['version', '--build-options'], { maxOutputBytes: 10, truncate: true });
    expect(cut).toMatchObject({ stdout: full.slice(0, 10), truncated: true });
    await expect(git(['version', '--build-options'], { maxOutputBytes: 10 })).rejects.toThrow(/more than 10 bytes/);
  });
});
