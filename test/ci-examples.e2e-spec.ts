import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { parse } from 'yaml';
import { expect } from './jest/expect.js';
import { disposeTestServer, DIST, FIXTURE_AGENTS, startTestServer, type TestServer } from './helpers/test-server.js';
import { git } from './helpers/git.js';

// The CI examples of deploy/ci/ run as their CI would run them: each shell step with bash, in a
// checkout of a repository, against a real server that clones that repository. The install step is
// the one left out: here `autocode` on PATH is this build's CLI.

const INSTALL = /npm install --global auto-code-server/;

interface Shell {
  status: number | null;
  output: string;
}

function bash(script: string, env: Record<string, string>, cwd: string): Promise<Shell> {
  const child = spawn('bash', ['-e', '-c', script], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return once(child, 'close').then(([status]) => {
    clearTimeout(timer);
    return { status: status as number | null, output };
  });
}

describe('the CI examples against a real server', () => {
  let scratch: string;
  let server: TestServer;
  let checkout: string;
  let sha: string;
  let base: Record<string, string>;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'autocode-ci-'));
    // The repository the job checked out, where the server may clone it from.
    checkout = join(scratch, 'org', 'repo.git');
    mkdirSync(checkout, { recursive: true });
    git(checkout, 'init', '-q', '-b', 'main');
    writeFileSync(join(checkout, 'README.md'), '# repo\n');
    git(checkout, 'add', '.');
    git(checkout, 'commit', '-q', '-m', 'first');
    sha = git(checkout, 'rev-parse', 'HEAD');
    mkdirSync(join(scratch, 'data'));
    server = await startTestServer({ dataDir: join(scratch, 'data'), env: { WORKSPACE_REPO_SCHEMES: 'file,https', WORKSPACE_FILE_ROOTS: join(scratch, 'org') }, agents: FIXTURE_AGENTS });
    // `autocode` as the install step would have put it on PATH.
    const bin = join(scratch, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'autocode'), `#!/bin/sh\nexec "${process.execPath}" "${join(DIST, 'cli.js')}" "$@"\n`);
    chmodSync(join(bin, 'autocode'), 0o755);
    base = { PATH: `${bin}:${process.env.PATH}`, HOME: join(scratch, 'home'), AUTOCODE_SERVER: server.url, AUTOCODE_TOKEN: server.token('ci') };
  });
  afterAll(async () => {
    await disposeTestServer(server);
    rmSync(scratch, { recursive: true, force: true });
  });

  /** The GitHub job's shell steps (all but the install) with the job's variables as the runner would set them. */
  async function githubJob(attempt: string, agent: string, prompt: string): Promise<{ steps: { name: string; result: Shell }[]; workspace: string }> {
    const workflow = parse(readFileSync(new URL('../deploy/ci/github-actions.yml', import.meta.url), 'utf8'));
    const job = workflow.jobs.agent;
    expect(Object.keys(job.env).sort()).toEqual(['AGENT', 'AUTOCODE_SERVER', 'AUTOCODE_TOKEN', 'PROMPT', 'WORKSPACE']);
    const upload = job.steps.find((step: { uses?: string }) => step.uses?.startsWith('actions/upload-artifact'));
    expect(upload.with.path).toBe('agent.patch');
    const workspace = `ci-77-${attempt}`;
    const env = { ...base, AGENT: agent, PROMPT: prompt, WORKSPACE: workspace, GITHUB_SERVER_URL: `file://${scratch}`, GITHUB_REPOSITORY: 'org/repo', GITHUB_SHA: sha, GITHUB_RUN_ID: '77' };
    const steps: { name: string; result: Shell }[] = [];
    let failed = false;
    for (const step of job.steps as { name?: string; run?: string; if?: string }[]) {
      if (step.run === undefined || INSTALL.test(step.run)) continue;
      // A failed step skips the rest, except the steps that run `always()`.
      if (failed && step.if !== 'always()') continue;
      const result = await bash(step.run, env, checkout);
      steps.push({ name: step.name ?? step.run, result });
      failed ||= result.status !== 0;
    }
    return { steps, workspace };
  }

  it('GitHub Actions: the job clones this commit, runs the agent, writes the diff, removes the workspace', async () => {
    const { steps, workspace } = await githubJob('1', 'writer', JSON.stringify({ file: 'CHANGES.md', content: 'agent was here\n' }));
    expect(steps.map((step) => step.name)).toEqual(['Create a workspace of this commit', 'Run the agent', 'Remove the workspace']);
    for (const step of steps) expect(step.result.status, `${step.name}: ${step.result.output}`).toBe(0);
    expect(steps[0]!.result.output).toContain(`${workspace} (file://${scratch}/org/repo.git at ${sha})`);
    expect(steps[1]!.result.output).toMatch(/succeeded · .* · 1 file changed/);
    const patch = readFileSync(join(checkout, 'agent.patch'), 'utf8');
    expect(patch).toContain('+++ b/CHANGES.md');
    expect(patch).toContain('+agent was here');
    expect((await server.request('GET', `/api/v1/workspaces/${workspace}`, { token: base.AUTOCODE_TOKEN })).status).toBe(404);
    rmSync(join(checkout, 'agent.patch'));
  });

  it('GitHub Actions: a failing agent fails the job at its step, and the workspace is still removed', async () => {
    const { steps, workspace } = await githubJob('2', 'fail', 'break');
    expect(steps.map((step) => [step.name, step.result.status])).toEqual([
      ['Create a workspace of this commit', 0],
      ['Run the agent', 1],
      ['Remove the workspace', 0],
    ]);
    expect((await server.request('GET', `/api/v1/workspaces/${workspace}`, { token: base.AUTOCODE_TOKEN })).status).toBe(404);
  });

  it('GitLab CI: script and after_script with the job variables', async () => {
    const job = parse(readFileSync(new URL('../deploy/ci/gitlab-ci.yml', import.meta.url), 'utf8')).agent;
    expect(job.before_script.every((line: string) => INSTALL.test(line))).toBe(true);
    expect(job.artifacts.paths).toEqual(['agent.patch']);
    const variables = Object.entries(job.variables as Record<string, string>).map(([name, value]) => `export ${name}="${value}"`);
    const env = { ...base, CI_JOB_ID: '901', CI_PIPELINE_ID: '90', CI_REPOSITORY_URL: `file://${checkout}`, CI_COMMIT_SHA: sha, AGENT_PROMPT: JSON.stringify({ file: 'gitlab.txt', content: 'from gitlab\n' }) };
    const script = await bash([...variables, 'export AGENT=writer', ...job.script].join('\n'), env, checkout);
    expect(script.status, script.output).toBe(0);
    expect(readFileSync(join(checkout, 'agent.patch'), 'utf8')).toContain('+++ b/gitlab.txt');
    const after = await bash([...variables, ...job.after_script].join('\n'), env, checkout);
    expect(after.status, after.output).toBe(0);
    expect((await server.request('GET', '/api/v1/workspaces/ci-901', { token: base.AUTOCODE_TOKEN })).status).toBe(404);
    expect(existsSync(join(scratch, 'data', 'users', 'ci', 'workspaces', 'ci-901'))).toBe(false);
  });
});
