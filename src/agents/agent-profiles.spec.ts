import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_PROFILES, loadAgentCatalog, parseAgentsDocument } from './agent-profiles.js';
import { agentEnvironment, expandArgv } from './executors/command.executor.js';

describe('agent profiles', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'autocode-agents-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('offers the built-ins without a file', async () => {
    const catalog = await loadAgentCatalog(null);
    expect([...catalog.profiles.keys()].sort()).toEqual(BUILT_IN_PROFILES.map((p) => p.name).sort());
    expect(catalog.profiles.has(catalog.defaultAgent)).toBe(true);
  });

  it('adds profiles from YAML and JSON and sets the default', async () => {
    const yaml = join(dir, 'agents.yaml');
    writeFileSync(yaml, 'default: mine\nagents:\n  mine:\n    command: ["my-agent", "{prompt}"]\n    output: jsonl\n    env: [MY_KEY]\n');
    const catalog = await loadAgentCatalog(yaml);
    expect(catalog.defaultAgent).toBe('mine');
    expect(catalog.profiles.get('mine')).toMatchObject({ executor: 'command', output: 'jsonl', env: ['MY_KEY'] });
    const json = join(dir, 'agents.json');
    writeFileSync(json, JSON.stringify({ agents: { other: { command: ['x'] } } }));
    expect((await loadAgentCatalog(json)).profiles.get('other')?.output).toBe('text');
  });

  it.each([
    ['agents: {a: {command: []}}', /agents\.a\.command must be a non-empty list/],
    ['agents: {a: {command: "sh -c x"}}', /agents\.a\.command must be a non-empty list/],
    ['agents: {a: {command: [x], output: xml}}', /agents\.a\.output must be one of/],
    ['agents: {a: {command: [x], env: [JWT_SECRET]}}', /must not pass the server's secret JWT_SECRET/],
    ['agents: {a: {command: [x], shell: true}}', /agents\.a\.shell is not a known profile field/],
    ['agents: {a: {executor: claude}}', /agents\.a\.executor "claude" is not available/],
    ['agents: {"../x": {command: [x]}}', /is not a valid name/],
    ['default: nope\nagents: {a: {command: [x]}}', /default names "nope"/],
    ['agents: [1]', /agents must be a mapping/],
    ['agents: {a: {command: [x]}}\nextra: 1', /extra is not a known field/],
    ['{{{', /cannot be parsed/],
  ])('refuses %j, naming the field', async (text, message) => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, text);
    await expect(loadAgentCatalog(file)).rejects.toThrow(message);
  });

  it('names a missing file', async () => {
    await expect(loadAgentCatalog(join(dir, 'missing.yaml'))).rejects.toThrow(/cannot be read: ENOENT/);
  });

  it('parses documents without touching the file system', () => {
    expect(parseAgentsDocument('agents: {}', 'x.yaml')).toEqual({ defaultAgent: null, profiles: [] });
  });
});

describe('command executor inputs', () => {
  const profile = { ...BUILT_IN_PROFILES[0]!, env: ['PASS_ME'] };

  it('replaces placeholders inside one argv element and never splits it', () => {
    expect(expandArgv(['agent', '--msg={prompt}', '{model}', '{runId}', '{other}'], { prompt: 'a b; c', model: null, runId: 'r1' })).toEqual([
      'agent',
      '--msg=a b; c',
      '',
      'r1',
      '{other}',
    ]);
  });

  it('passes only the allowlist, the profile env and its own variables', () => {
    const env = agentEnvironment(
      { runId: 'r1', prompt: 'p', profile, cwd: '/w', home: '/h' },
      { PATH: '/bin', PASS_ME: 'yes', JWT_SECRET: 's', DATABASE_URL: 'postgres://x', HOME: '/root', OTHER: 'no' },
    );
    expect(env).toEqual({ PATH: '/bin', PASS_ME: 'yes', HOME: '/h', AUTOCODE_PROMPT: 'p', AUTOCODE_RUN_ID: 'r1', AUTOCODE_WORKSPACE: '/w' });
  });
});
