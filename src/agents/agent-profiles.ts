import { readFile } from 'node:fs/promises';
import { extname, isAbsolute, normalize } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { isInside } from '../common/paths.js';
import { RESOURCE_LIMIT_NAMES, type ResourceLimits } from '../sandbox/resource-limits.js';

export type OutputFormat = 'text' | 'jsonl' | 'claude-stream-json';

/** Claude Code permission modes a profile may choose; `acceptEdits` by default. `bypassPermissions` refuses to run as root. */
export const CLAUDE_PERMISSION_MODES = ['default', 'acceptEdits', 'plan', 'dontAsk', 'bypassPermissions'] as const;
export type ClaudePermissionMode = (typeof CLAUDE_PERMISSION_MODES)[number];

/** Server variables the `claude` executor needs, one of them at least; it passes them (and `ANTHROPIC_BASE_URL`) to the agent. */
export const CLAUDE_CREDENTIALS = ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN'] as const;

interface ProfileBase {
  name: string;
  description: string;
  /** Names of server environment variables passed through to the agent. */
  env: string[];
  timeoutSeconds: number | null;
  model: string | null;
  /** `false` runs the agent outside the sandbox; allowed only with SANDBOX_ALLOW_OPT_OUT=true. */
  sandbox: boolean;
  /** `false`: no network in the sandbox, not even the host's loopback. */
  network: boolean;
  /** Lower limits than the tier's for this profile's runs. */
  limits: Partial<ResourceLimits>;
  /** Host paths the agent may read in the sandbox beyond the system (a toolchain under /opt, say). */
  readOnlyPaths: string[];
}

const SANDBOX_DEFAULTS = { sandbox: true, network: true, limits: {}, readOnlyPaths: [] } satisfies Partial<ProfileBase>;

/** Any CLI agent, started from an argv template without a shell. */
export interface CommandProfile extends ProfileBase {
  executor: 'command';
  /** argv template; `{prompt}`, `{model}` and `{runId}` are replaced inside an element, never split. */
  command: string[];
  /** argv template of a follow-up (`POST /api/v1/runs/:id/messages` on a finished run), run in the same workspace; null: no follow-ups. */
  resumeCommand: string[] | null;
  output: OutputFormat;
}

/** Claude Code through the Claude Agent SDK. */
export interface ClaudeProfile extends ProfileBase {
  executor: 'claude';
  maxTurns: number | null;
  /** Tools that run without asking (no one answers permission prompts on a server); null: Claude Code's own rules. */
  allowedTools: string[] | null;
  /** Tools removed from the model's context. */
  disallowedTools: string[];
  permissionMode: ClaudePermissionMode;
  /** Appended to Claude Code's own system prompt. */
  appendSystemPrompt: string | null;
  /** Tools whose every call waits for a person's decision; null: none does. */
  approvals: ApprovalPolicy | null;
}

export const APPROVAL_TIMEOUT_OUTCOMES = ['deny', 'allow'] as const;

/** A `claude` profile's approval gate: calls of `tools` wait for a decision, at most `timeoutSeconds`, then `onTimeout` applies. */
export interface ApprovalPolicy {
  tools: string[];
  timeoutSeconds: number;
  onTimeout: (typeof APPROVAL_TIMEOUT_OUTCOMES)[number];
}

const APPROVAL_FIELDS = new Set(['tools', 'timeoutSeconds', 'onTimeout']);
/** How long a call waits for its decision when the profile does not say. */
export const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 600;

export type AgentProfile = CommandProfile | ClaudeProfile;

export interface AgentCatalog {
  defaultAgent: string;
  profiles: Map<string, AgentProfile>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const OUTPUTS: OutputFormat[] = ['text', 'jsonl', 'claude-stream-json'];
const FORBIDDEN_ENV = new Set(['JWT_SECRET', 'JWT_PUBLIC_KEY', 'DATABASE_URL', 'REDIS_URL', 'SECRETS_KEY']);
const COMMON_FIELDS = ['executor', 'description', 'env', 'timeoutSeconds', 'model', 'sandbox', 'network', 'limits', 'readOnlyPaths'];
const FIELDS: Record<AgentProfile['executor'], Set<string>> = {
  command: new Set([...COMMON_FIELDS, 'command', 'resumeCommand', 'output']),
  claude: new Set([...COMMON_FIELDS, 'maxTurns', 'allowedTools', 'disallowedTools', 'permissionMode', 'appendSystemPrompt', 'approvals']),
};
const MAX_APPENDED_PROMPT = 20_000;

const CLAUDE_NEEDS = `needs ${CLAUDE_CREDENTIALS.join(' or ')}`;

/** A `claude` profile's description always says which credential it needs, whoever wrote the rest. */
function claudeDescription(description: string | undefined): string {
  return `${description ?? 'Claude Agent SDK'} (${CLAUDE_NEEDS})`;
}

const CODE_TOOLS = ['Read', 'Write', 'Edit', 'Bash', 'Glob', 'Grep'];
const READ_TOOLS = ['Read', 'Glob', 'Grep'];

const SPEC_FOLDER =
  'The prompt is a spec: the content of the spec.md of one folder under .auto-claude/specs/ in this workspace, ' +
  'its spec folder. Find that folder first.';

function claudeProfile(name: string, description: string, fields: Partial<ClaudeProfile>): ClaudeProfile {
  return {
    name,
    executor: 'claude',
    description: claudeDescription(description),
    env: [],
    timeoutSeconds: null,
    model: null,
    maxTurns: 50,
    allowedTools: CODE_TOOLS,
    disallowedTools: [],
    permissionMode: 'acceptEdits',
    appendSystemPrompt: null,
    approvals: null,
    ...SANDBOX_DEFAULTS,
    ...fields,
  };
}

/** Profiles every server offers; an `AGENTS_FILE` adds to them or replaces one by name. The first is the default. */
export const BUILT_IN_PROFILES: AgentProfile[] = [
  claudeProfile('claude', 'Claude Code through the Claude Agent SDK, in the run\'s workspace', {}),
  claudeProfile('planner', 'Reads a spec and writes implementation_plan.json in its spec folder', {
    maxTurns: 40,
    allowedTools: [...READ_TOOLS, 'Write'],
    appendSystemPrompt: [
      'You are the planner of a spec-driven pipeline. Plan; do not implement.',
      SPEC_FOLDER,
      'Read the spec and the code it concerns. Then write implementation_plan.json in the spec folder: ' +
        '{"spec": <spec folder name>, "summary": <one paragraph>, "phases": [{"name", "subtasks": [{"id", "description", ' +
        '"files": [<paths to create or change>], "verification": <a command or check that proves it done>, "status": "pending"}]}]}. ' +
        'Subtasks are small, ordered, and each verifiable on its own.',
      'Write no file other than implementation_plan.json.',
    ].join('\n'),
  }),
  claudeProfile('coder', 'Implements the implementation_plan.json of a spec', {
    maxTurns: 150,
    appendSystemPrompt: [
      'You are the coder of a spec-driven pipeline.',
      SPEC_FOLDER,
      'Implement implementation_plan.json from that folder, subtask by subtask and in order: make the change, run its ' +
        'verification, and set the subtask\'s "status" to "completed" in the plan only when the verification passes.',
      'Follow the conventions of the code around you; run the project\'s tests before you finish, and say what is left if anything is.',
    ].join('\n'),
  }),
  claudeProfile('qa_reviewer', 'Reviews the work against its spec and writes qa_report.md in the spec folder', {
    maxTurns: 60,
    allowedTools: [...READ_TOOLS, 'Bash', 'Write'],
    appendSystemPrompt: [
      'You are the QA reviewer of a spec-driven pipeline. Review; do not fix.',
      SPEC_FOLDER,
      'Check the implementation against every requirement of the spec and its implementation_plan.json: read the changed ' +
        'code, run the tests and any verification the plan names.',
      'Write qa_report.md in the spec folder: a first line "Status: approved" or "Status: rejected", then a numbered list of ' +
        'issues, each with the file (and line), what is wrong and what the spec expects. Change no other file.',
    ].join('\n'),
  }),
  claudeProfile('qa_fixer', 'Fixes the issues that qa_report.md lists', {
    maxTurns: 100,
    appendSystemPrompt: [
      'You are the QA fixer of a spec-driven pipeline.',
      SPEC_FOLDER,
      'Fix every issue that qa_report.md in the spec folder lists, and nothing else. Run the tests after your fixes, then ' +
        'append a "Fixes" section to qa_report.md saying, for each issue by number, what you changed.',
    ].join('\n'),
  }),
  {
    name: 'claude-code',
    executor: 'command',
    description: `Claude Code CLI in print mode, streaming its JSON events (${CLAUDE_NEEDS})`,
    command: ['claude', '-p', '{prompt}', '--output-format', 'stream-json', '--verbose', '--permission-mode', 'acceptEdits'],
    resumeCommand: null,
    output: 'claude-stream-json',
    env: ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN', 'ANTHROPIC_BASE_URL'],
    timeoutSeconds: null,
    model: null,
    ...SANDBOX_DEFAULTS,
  },
  {
    name: 'codex',
    executor: 'command',
    description: 'OpenAI Codex CLI, non-interactive, JSON lines (needs OPENAI_API_KEY)',
    command: ['codex', 'exec', '--json', '{prompt}'],
    resumeCommand: null,
    output: 'jsonl',
    env: ['OPENAI_API_KEY'],
    timeoutSeconds: null,
    model: null,
    ...SANDBOX_DEFAULTS,
  },
];

export class AgentProfilesError extends Error {
  override name = 'AgentProfilesError';
}

function fail(where: string, message: string): never {
  throw new AgentProfilesError(`Invalid configuration: AGENTS_FILE ${where} ${message}`);
}

function isStringList(value: unknown, item: RegExp): value is string[] {
  return Array.isArray(value) && value.every((entry) => typeof entry === 'string' && item.test(entry));
}

/** A tool name or permission rule: `Bash`, `Bash(git diff:*)`, `mcp__server__tool`. */
const TOOL = /^[^\s\p{Cc}][^\p{Cc}]{0,199}$/u;
/** A tool name alone, as an approval gate names the tools it stops: `Bash`, `mcp__server__tool`. */
const TOOL_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,199}$/;

function parseProfile(name: string, raw: unknown, file: string): AgentProfile {
  const where = `${file}: agents.${name}`;
  if (!NAME.test(name)) fail(where, 'is not a valid name (letters, digits, ".", "_", "-"; at most 64)');
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(where, 'must be a mapping');
  const profile = raw as Record<string, unknown>;
  const executor = profile.executor ?? 'command';
  if (executor !== 'command' && executor !== 'claude') {
    fail(`${where}.executor`, `"${String(executor)}" is not an executor; use "command" or "claude"`);
  }
  for (const key of Object.keys(profile)) {
    if (FIELDS[executor].has(key)) continue;
    const other = executor === 'command' ? 'claude' : 'command';
    fail(`${where}.${key}`, FIELDS[other].has(key) ? `is a field of "${other}" profiles, not "${executor}" ones` : 'is not a known profile field');
  }
  const env = profile.env ?? [];
  if (!isStringList(env, ENV_NAME)) fail(`${where}.env`, 'must be a list of environment variable names');
  for (const variable of env) {
    if (FORBIDDEN_ENV.has(variable)) fail(`${where}.env`, `must not pass the server's secret ${variable} to an agent`);
  }
  const timeout = profile.timeoutSeconds;
  if (timeout !== undefined && (!Number.isInteger(timeout) || (timeout as number) < 1)) {
    fail(`${where}.timeoutSeconds`, 'must be a positive whole number');
  }
  const model = profile.model;
  if (model !== undefined && (typeof model !== 'string' || model.length === 0 || model.length > 128)) {
    fail(`${where}.model`, 'must be a string of 1 to 128 characters');
  }
  const description = profile.description;
  if (description !== undefined && typeof description !== 'string') fail(`${where}.description`, 'must be a string');
  const base = {
    name,
    env,
    timeoutSeconds: (timeout as number | undefined) ?? null,
    model: (model as string | undefined) ?? null,
    ...parseSandboxFields(where, profile),
  };
  return executor === 'command'
    ? { ...base, ...parseCommandFields(where, profile), description: (description as string | undefined) ?? `${String((profile.command as string[])[0])} (command)` }
    : { ...base, ...parseClaudeFields(where, profile), description: claudeDescription(description as string | undefined) };
}

function parseSandboxFields(where: string, profile: Record<string, unknown>): Pick<ProfileBase, 'sandbox' | 'network' | 'limits' | 'readOnlyPaths'> {
  const { sandbox = true, network = true, limits = {}, readOnlyPaths = [] } = profile;
  if (typeof sandbox !== 'boolean') fail(`${where}.sandbox`, 'must be true or false');
  if (typeof network !== 'boolean') fail(`${where}.network`, 'must be true or false');
  if (typeof limits !== 'object' || limits === null || Array.isArray(limits)) fail(`${where}.limits`, 'must be a mapping');
  for (const [key, value] of Object.entries(limits)) {
    if (!(RESOURCE_LIMIT_NAMES as readonly string[]).includes(key)) {
      fail(`${where}.limits.${key}`, `is not a limit; use ${RESOURCE_LIMIT_NAMES.join(', ')}`);
    }
    if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 2 ** 31) {
      fail(`${where}.limits.${key}`, 'must be a positive whole number');
    }
  }
  if (!Array.isArray(readOnlyPaths) || !readOnlyPaths.every((path) => typeof path === 'string' && isAbsolute(path) && !path.includes('\0'))) {
    fail(`${where}.readOnlyPaths`, 'must be a list of absolute paths');
  }
  return { sandbox, network, limits: limits as Partial<ResourceLimits>, readOnlyPaths: readOnlyPaths.map((path) => normalize(path)) };
}

function parseCommandFields(where: string, profile: Record<string, unknown>): Pick<CommandProfile, 'executor' | 'command' | 'resumeCommand' | 'output'> {
  const command = profile.command;
  if (!Array.isArray(command) || command.length === 0 || !command.every((arg) => typeof arg === 'string')) {
    fail(`${where}.command`, 'must be a non-empty list of strings (an argv; no shell is used)');
  }
  if ((command[0] as string).length === 0) fail(`${where}.command[0]`, 'must name a program');
  const resumeCommand = profile.resumeCommand;
  if (
    resumeCommand !== undefined &&
    (!Array.isArray(resumeCommand) || resumeCommand.length === 0 || !resumeCommand.every((arg) => typeof arg === 'string') || (resumeCommand[0] as string).length === 0)
  ) {
    fail(`${where}.resumeCommand`, 'must be a non-empty list of strings naming a program first (an argv; no shell is used)');
  }
  const output = profile.output ?? 'text';
  if (!OUTPUTS.includes(output as OutputFormat)) fail(`${where}.output`, `must be one of ${OUTPUTS.join(', ')}`);
  return { executor: 'command', command: command as string[], resumeCommand: (resumeCommand as string[] | undefined) ?? null, output: output as OutputFormat };
}

function parseClaudeFields(
  where: string,
  profile: Record<string, unknown>,
): Pick<ClaudeProfile, 'executor' | 'maxTurns' | 'allowedTools' | 'disallowedTools' | 'permissionMode' | 'appendSystemPrompt' | 'approvals'> {
  const { maxTurns, allowedTools, disallowedTools = [], permissionMode = 'acceptEdits', appendSystemPrompt } = profile;
  if (maxTurns !== undefined && (!Number.isInteger(maxTurns) || (maxTurns as number) < 1)) {
    fail(`${where}.maxTurns`, 'must be a positive whole number');
  }
  if (allowedTools !== undefined && !isStringList(allowedTools, TOOL)) fail(`${where}.allowedTools`, 'must be a list of tool names');
  if (!isStringList(disallowedTools, TOOL)) fail(`${where}.disallowedTools`, 'must be a list of tool names');
  if (!CLAUDE_PERMISSION_MODES.includes(permissionMode as ClaudePermissionMode)) {
    fail(`${where}.permissionMode`, `must be one of ${CLAUDE_PERMISSION_MODES.join(', ')}`);
  }
  if (
    appendSystemPrompt !== undefined &&
    (typeof appendSystemPrompt !== 'string' || appendSystemPrompt.length === 0 || appendSystemPrompt.length > MAX_APPENDED_PROMPT)
  ) {
    fail(`${where}.appendSystemPrompt`, `must be a string of 1 to ${MAX_APPENDED_PROMPT} characters`);
  }
  return {
    executor: 'claude',
    maxTurns: (maxTurns as number | undefined) ?? null,
    allowedTools: (allowedTools as string[] | undefined) ?? null,
    disallowedTools: disallowedTools as string[],
    permissionMode: permissionMode as ClaudePermissionMode,
    appendSystemPrompt: (appendSystemPrompt as string | undefined) ?? null,
    approvals: parseApprovals(`${where}.approvals`, profile.approvals),
  };
}

function parseApprovals(where: string, raw: unknown): ApprovalPolicy | null {
  if (raw === undefined) return null;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(where, 'must be a mapping with "tools"');
  const approvals = raw as Record<string, unknown>;
  for (const key of Object.keys(approvals)) {
    if (!APPROVAL_FIELDS.has(key)) fail(`${where}.${key}`, 'is not a known field (expected tools, timeoutSeconds, onTimeout)');
  }
  const { tools, timeoutSeconds = DEFAULT_APPROVAL_TIMEOUT_SECONDS, onTimeout = 'deny' } = approvals;
  if (!isStringList(tools, TOOL_NAME) || tools.length === 0) fail(`${where}.tools`, 'must be a non-empty list of tool names (Bash, Write, mcp__server__tool)');
  if (!Number.isInteger(timeoutSeconds) || (timeoutSeconds as number) < 1 || (timeoutSeconds as number) > 86_400) {
    fail(`${where}.timeoutSeconds`, 'must be a whole number of seconds from 1 to 86400');
  }
  if (!APPROVAL_TIMEOUT_OUTCOMES.includes(onTimeout as ApprovalPolicy['onTimeout'])) fail(`${where}.onTimeout`, `must be one of ${APPROVAL_TIMEOUT_OUTCOMES.join(', ')}`);
  return { tools: [...new Set(tools)], timeoutSeconds: timeoutSeconds as number, onTimeout: onTimeout as ApprovalPolicy['onTimeout'] };
}

/** Parses a profiles document (YAML or JSON); throws an AgentProfilesError naming the bad field. */
export function parseAgentsDocument(text: string, file: string): { defaultAgent: string | null; profiles: AgentProfile[] } {
  let document: unknown;
  try {
    document = extname(file) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    fail(file, `cannot be parsed: ${(error as Error).message.split('\n')[0]}`);
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) fail(file, 'must be a mapping with "agents"');
  const { default: defaultAgent, agents, ...rest } = document as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) fail(`${file}: ${extra}`, 'is not a known field (expected "default" and "agents")');
  if (typeof agents !== 'object' || agents === null || Array.isArray(agents)) fail(`${file}: agents`, 'must be a mapping of profile names');
  if (defaultAgent !== undefined && typeof defaultAgent !== 'string') fail(`${file}: default`, 'must be a profile name');
  return {
    defaultAgent: (defaultAgent as string | undefined) ?? null,
    profiles: Object.entries(agents).map(([name, raw]) => parseProfile(name, raw, file)),
  };
}

export interface CatalogOptions {
  /** SANDBOX_ALLOW_OPT_OUT: whether a profile may set `sandbox: false`. */
  allowSandboxOptOut: boolean;
  /** DATA_DIR: no `readOnlyPaths` entry may show it, or anything in it, to an agent. */
  dataDir?: string;
}

/** Whether showing `path` in a sandbox would show `dataDir` or part of it. */
function exposes(path: string, dataDir: string): boolean {
  return isInside(path, dataDir) || isInside(dataDir, path);
}

export async function loadAgentCatalog(file: string | null, options: CatalogOptions = { allowSandboxOptOut: false }): Promise<AgentCatalog> {
  const profiles = new Map(BUILT_IN_PROFILES.map((profile) => [profile.name, profile]));
  let defaultAgent = BUILT_IN_PROFILES[0]!.name;
  if (file) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      fail(file, `cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const document = parseAgentsDocument(text, file);
    for (const profile of document.profiles) {
      if (!profile.sandbox && !options.allowSandboxOptOut) {
        fail(`${file}: agents.${profile.name}.sandbox`, 'is false, which the server allows only with SANDBOX_ALLOW_OPT_OUT=true');
      }
      const exposing = options.dataDir === undefined ? undefined : profile.readOnlyPaths.find((path) => exposes(path, options.dataDir!));
      if (exposing !== undefined) fail(`${file}: agents.${profile.name}.readOnlyPaths`, `must not show DATA_DIR to agents (${exposing})`);
      profiles.set(profile.name, profile);
    }
    if (document.defaultAgent !== null) {
      if (!profiles.has(document.defaultAgent)) fail(`${file}: default`, `names "${document.defaultAgent}", which is not a profile`);
      defaultAgent = document.defaultAgent;
    }
  }
  return { defaultAgent, profiles };
}
