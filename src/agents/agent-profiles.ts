import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';

export type OutputFormat = 'text' | 'jsonl' | 'claude-stream-json';

export interface AgentProfile {
  name: string;
  executor: 'command';
  description: string;
  /** argv template; `{prompt}`, `{model}` and `{runId}` are replaced inside an element, never split. */
  command: string[];
  output: OutputFormat;
  /** Names of server environment variables passed through to the agent. */
  env: string[];
  timeoutSeconds: number | null;
  model: string | null;
}

export interface AgentCatalog {
  defaultAgent: string;
  profiles: Map<string, AgentProfile>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const OUTPUTS: OutputFormat[] = ['text', 'jsonl', 'claude-stream-json'];
const FORBIDDEN_ENV = new Set(['JWT_SECRET', 'JWT_PUBLIC_KEY', 'DATABASE_URL', 'REDIS_URL']);

/** Profiles every server offers; an `AGENTS_FILE` adds to them or replaces one by name. */
export const BUILT_IN_PROFILES: AgentProfile[] = [
  {
    name: 'claude-code',
    executor: 'command',
    description: 'Claude Code CLI in print mode, streaming its JSON events',
    command: ['claude', '-p', '{prompt}', '--output-format', 'stream-json', '--verbose', '--permission-mode', 'acceptEdits'],
    output: 'claude-stream-json',
    env: ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN', 'ANTHROPIC_BASE_URL'],
    timeoutSeconds: null,
    model: null,
  },
  {
    name: 'codex',
    executor: 'command',
    description: 'OpenAI Codex CLI, non-interactive, JSON lines',
    command: ['codex', 'exec', '--json', '{prompt}'],
    output: 'jsonl',
    env: ['OPENAI_API_KEY'],
    timeoutSeconds: null,
    model: null,
  },
];

export class AgentProfilesError extends Error {
  override name = 'AgentProfilesError';
}

function fail(where: string, message: string): never {
  throw new AgentProfilesError(`Invalid configuration: AGENTS_FILE ${where} ${message}`);
}

function parseProfile(name: string, raw: unknown, file: string): AgentProfile {
  const where = `${file}: agents.${name}`;
  if (!NAME.test(name)) fail(where, 'is not a valid name (letters, digits, ".", "_", "-"; at most 64)');
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(where, 'must be a mapping');
  const profile = raw as Record<string, unknown>;
  const known = new Set(['executor', 'description', 'command', 'output', 'env', 'timeoutSeconds', 'model']);
  for (const key of Object.keys(profile)) {
    if (!known.has(key)) fail(`${where}.${key}`, 'is not a known profile field');
  }
  const executor = profile.executor ?? 'command';
  if (executor !== 'command') {
    fail(`${where}.executor`, `"${String(executor)}" is not available; this server runs the "command" executor`);
  }
  const command = profile.command;
  if (!Array.isArray(command) || command.length === 0 || !command.every((arg) => typeof arg === 'string')) {
    fail(`${where}.command`, 'must be a non-empty list of strings (an argv; no shell is used)');
  }
  if ((command[0] as string).length === 0) fail(`${where}.command[0]`, 'must name a program');
  const output = profile.output ?? 'text';
  if (!OUTPUTS.includes(output as OutputFormat)) fail(`${where}.output`, `must be one of ${OUTPUTS.join(', ')}`);
  const env = profile.env ?? [];
  if (!Array.isArray(env) || !env.every((v) => typeof v === 'string' && ENV_NAME.test(v))) {
    fail(`${where}.env`, 'must be a list of environment variable names');
  }
  for (const variable of env as string[]) {
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
  return {
    name,
    executor: 'command',
    description: (description as string | undefined) ?? `${(command as string[])[0]} (command)`,
    command: command as string[],
    output: output as OutputFormat,
    env: env as string[],
    timeoutSeconds: (timeout as number | undefined) ?? null,
    model: (model as string | undefined) ?? null,
  };
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

export async function loadAgentCatalog(file: string | null): Promise<AgentCatalog> {
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
      profiles.set(profile.name, profile);
    }
    if (document.defaultAgent !== null) {
      if (!profiles.has(document.defaultAgent)) fail(`${file}: default`, `names "${document.defaultAgent}", which is not a profile`);
      defaultAgent = document.defaultAgent;
    }
  }
  return { defaultAgent, profiles };
}
