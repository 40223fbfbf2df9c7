// How an AGENTS_FILE is read: every profile checked, field by field, before any is used.
import { readFile } from 'node:fs/promises';
import { extname, isAbsolute, normalize } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { isInside } from '../common/paths.js';
import { RESOURCE_LIMIT_NAMES, type ResourceLimits } from '../sandbox/resource-limits.js';

import {
  APPROVAL_TIMEOUT_OUTCOMES,
  BUILT_IN_PROFILES,
  CLAUDE_PERMISSION_MODES,
  claudeDescription,
  DEFAULT_APPROVAL_TIMEOUT_SECONDS,
  type AgentCatalog,
  type AgentProfile,
  type ApprovalPolicy,
  type ClaudePermissionMode,
  type ClaudeProfile,
  type CommandProfile,
  type OutputFormat,
  type ProfileBase,
} from './agent-profiles.js';

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

const APPROVAL_FIELDS = new Set(['tools', 'timeoutSeconds', 'onTimeout']);

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
