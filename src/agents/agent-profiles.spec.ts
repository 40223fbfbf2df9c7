import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../../test/jest/expect.js';
import { loadAgentCatalog, parseAgentsDocument } from './agent-profiles-file.js';
import { BUILT_IN_PROFILES } from './agent-profiles.js';
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
    expect((await loadAgentCatalog(json)).profiles.get('other')).toMatchObject({ executor: 'command', output: 'text' });
  });

  it('reads claude profiles with their defaults, and says in each description which credential they need', async () => {
    const file = join(dir, 'claude.yaml');
    writeFileSync(
      file,
      [
        'agents:',
        '  reviewer:',
        '    executor: claude',
        '    description: Reviews pull requests',
        '    model: claude-sonnet-4-5',
        '    maxTurns: 7',
        '    allowedTools: [Read, "Bash(git diff:*)"]',
        '    disallowedTools: [WebFetch]',
        '    permissionMode: plan',
        '    appendSystemPrompt: Be brief.',
        '    env: [GITHUB_TOKEN]',
        '    approvals: {tools: [Bash, Write, Bash], timeoutSeconds: 120, onTimeout: allow}',
        '  bare:',
        '    executor: claude',
      ].join('\n'),
    );
    const catalog = await loadAgentCatalog(file);
    expect(catalog.profiles.get('reviewer')).toEqual({
      name: 'reviewer',
      executor: 'claude',
      description: 'Reviews pull requests (needs ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN)',
      model: 'claude-sonnet-4-5',
      maxTurns: 7,
      allowedTools: ['Read', 'Bash(git diff:*)'],
      disallowedTools: ['WebFetch'],
      permissionMode: 'plan',
      appendSystemPrompt: 'Be brief.',
      approvals: { tools: ['Bash', 'Write'], timeoutSeconds: 120, onTimeout: 'allow' },
      env: ['GITHUB_TOKEN'],
      timeoutSeconds: null,
      sandbox: true,
      network: true,
      limits: {},
      readOnlyPaths: [],
    });
    expect(catalog.profiles.get('bare')).toMatchObject({
      executor: 'claude',
      description: 'Claude Agent SDK (needs ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN)',
      maxTurns: null,
      allowedTools: null,
      disallowedTools: [],
      permissionMode: 'acceptEdits',
      appendSystemPrompt: null,
      approvals: null,
      model: null,
    });
  });

  it('gives an approval gate 600 seconds and denial on timeout unless it says otherwise', async () => {
    const file = join(dir, 'agents.yaml');
    writeFileSync(file, 'agents: {gated: {executor: claude, approvals: {tools: [Bash]}}}');
    const catalog = await loadAgentCatalog(file);
    expect(catalog.profiles.get('gated')).toMatchObject({ approvals: { tools: ['Bash'], timeoutSeconds: 600, onTimeout: 'deny' } });
  });

  it('offers claude as the default and the spec pipeline roles as claude profiles with their own prompts', async () => {
    const catalog = await loadAgentCatalog(null);
    expect(catalog.defaultAgent).toBe('claude');
    for (const name of ['claude', 'planner', 'coder', 'qa_reviewer', 'qa_fixer']) {
      const profile = catalog.profiles.get(name);
      expect(profile?.executor, name).toBe('claude');
      expect(profile?.description, name).toMatch(/needs ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN/);
    }
    const prompt = (name: string): string => {
      const profile = catalog.profiles.get(name);
      return profile?.executor === 'claude' ? (profile.appendSystemPrompt ?? '') : '';
    };
    expect(prompt('planner')).toMatch(/implementation_plan\.json in the spec folder/);
    expect(prompt('coder')).toMatch(/Implement implementation_plan\.json/);
    expect(prompt('qa_reviewer')).toMatch(/qa_report\.md in the spec folder/);
    expect(prompt('qa_fixer')).toMatch(/Fix every issue that qa_report\.md/);
  });

  it.each([
    ['agents: {a: {command: []}}', /agents\.a\.command must be a non-empty list/],
    ['agents: {a: {command: "sh -c x"}}', /agents\.a\.command must be a non-empty list/],
    ['agents: {a: {command: [x], output: xml}}', /agents\.a\.output must be one of/],
    ['agents: {a: {command: [x], env: [JWT_SECRET]}}', /must not pass the server's secret JWT_SECRET/],
    ['agents: {a: {command: [x], shell: true}}', /agents\.a\.shell is not a known profile field/],
    ['agents: {a: {executor: docker}}', /agents\.a\.executor "docker" is not an executor; use "command" or "claude"/],
    ['agents: {a: {executor: claude, command: [x]}}', /agents\.a\.command is a field of "command" profiles, not "claude" ones/],
    ['agents: {a: {command: [x], maxTurns: 3}}', /agents\.a\.maxTurns is a field of "claude" profiles, not "command" ones/],
    ['agents: {a: {executor: claude, maxTurns: 0}}', /agents\.a\.maxTurns must be a positive whole number/],
    ['agents: {a: {executor: claude, allowedTools: Bash}}', /agents\.a\.allowedTools must be a list of tool names/],
    ['agents: {a: {executor: claude, disallowedTools: [""]}}', /agents\.a\.disallowedTools must be a list of tool names/],
    ['agents: {a: {executor: claude, permissionMode: yolo}}', /agents\.a\.permissionMode must be one of default, acceptEdits/],
    ['agents: {a: {executor: claude, appendSystemPrompt: 3}}', /agents\.a\.appendSystemPrompt must be a string/],
    ['agents: {a: {command: [x], approvals: {tools: [Bash]}}}', /agents\.a\.approvals is a field of "claude" profiles, not "command" ones/],
    ['agents: {a: {executor: claude, approvals: [Bash]}}', /agents\.a\.approvals must be a mapping with "tools"/],
    ['agents: {a: {executor: claude, approvals: {tools: []}}}', /agents\.a\.approvals\.tools must be a non-empty list of tool names/],
    ['agents: {a: {executor: claude, approvals: {tools: ["Bash(rm:*)"]}}}', /agents\.a\.approvals\.tools must be a non-empty list of tool names/],
    ['agents: {a: {executor: claude, approvals: {tools: [Bash], timeoutSeconds: 0}}}', /agents\.a\.approvals\.timeoutSeconds must be a whole number of seconds from 1 to 86400/],
    ['agents: {a: {executor: claude, approvals: {tools: [Bash], onTimeout: ask}}}', /agents\.a\.approvals\.onTimeout must be one of deny, allow/],
    ['agents: {a: {executor: claude, approvals: {tools: [Bash], who: me}}}', /agents\.a\.approvals\.who is not a known field/],
    ['agents: {a: {executor: claude, env: [DATABASE_URL]}}', /must not pass the server's secret DATABASE_URL/],
    ['agents: {"../x": {command: [x]}}', /is not a valid name/],
    ['default: nope\nagents: {a: {command: [x]}}', /default names "nope"/],
    ['agents: [1]', /agents must be a mapping/],
    ['agents: {a: {command: [x]}}\nextra: 1', /extra is not a known field/],
    ['{{{', /cannot be parsed/],
    ['agents: {a: {command: [x], sandbox: "no"}}', /agents\.a\.sandbox must be true or false/],
    ['agents: {a: {command: [x], sandbox: false}}', /agents\.a\.sandbox is false, which the server allows only with SANDBOX_ALLOW_OPT_OUT=true/],
    ['agents: {a: {command: [x], network: 0}}', /agents\.a\.network must be true or false/],
    ['agents: {a: {command: [x], limits: {cpu: 1}}}', /agents\.a\.limits\.cpu is not a limit; use processes, openFiles, fileSizeMb, addressSpaceMb/],
    ['agents: {a: {command: [x], limits: {processes: 0}}}', /agents\.a\.limits\.processes must be a positive whole number/],
    ['agents: {a: {command: [x], readOnlyPaths: [opt/tool]}}', /agents\.a\.readOnlyPaths must be a list of absolute paths/],
  ])('refuses %j, naming the field', async (text, message) => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, text);
    await expect(loadAgentCatalog(file)).rejects.toThrow(message);
  });

  it('reads the sandbox fields, sandboxed with the network and no limits of its own by default', async () => {
    const file = join(dir, 'sandbox.yaml');
    writeFileSync(
      file,
      'agents:\n  plain:\n    command: [x]\n  strict:\n    command: [x]\n    network: false\n    limits: {processes: 64, fileSizeMb: 10}\n    readOnlyPaths: [/opt/tool/]\n  loose:\n    command: [x]\n    sandbox: false\n',
    );
    const catalog = await loadAgentCatalog(file, { allowSandboxOptOut: true });
    expect(catalog.profiles.get('plain')).toMatchObject({ sandbox: true, network: true, limits: {}, readOnlyPaths: [] });
    expect(catalog.profiles.get('strict')).toMatchObject({ sandbox: true, network: false, limits: { processes: 64, fileSizeMb: 10 }, readOnlyPaths: ['/opt/tool/'] });
    expect(catalog.profiles.get('loose')).toMatchObject({ sandbox: false });
    for (const profile of BUILT_IN_PROFILES) expect(profile).toMatchObject({ sandbox: true, network: true });
  });

  it.each(['/', '/srv', '/srv/autocode', '/srv/autocode/users'])('refuses readOnlyPaths %s, which would show DATA_DIR to agents', async (path) => {
    const file = join(dir, 'exposing.yaml');
    writeFileSync(file, `agents:\n  a:\n    command: [x]\n    readOnlyPaths: [${path}]\n`);
    await expect(loadAgentCatalog(file, { allowSandboxOptOut: false, dataDir: '/srv/autocode' })).rejects.toThrow(/agents\.a\.readOnlyPaths must not show DATA_DIR to agents/);
    writeFileSync(file, 'agents:\n  a:\n    command: [x]\n    readOnlyPaths: [/srv/autocode-tools]\n');
    await expect(loadAgentCatalog(file, { allowSandboxOptOut: false, dataDir: '/srv/autocode' })).resolves.toBeTruthy();
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
