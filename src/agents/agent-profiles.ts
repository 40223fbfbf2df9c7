import type { ResourceLimits } from '../sandbox/resource-limits.js';

export type OutputFormat = 'text' | 'jsonl' | 'claude-stream-json';

/** Claude Code permission modes a profile may choose; `acceptEdits` by default. `bypassPermissions` refuses to run as root. */
export const CLAUDE_PERMISSION_MODES = ['default', 'acceptEdits', 'plan', 'dontAsk', 'bypassPermissions'] as const;
export type ClaudePermissionMode = (typeof CLAUDE_PERMISSION_MODES)[number];

/** Server variables the `claude` executor needs, one of them at least; it passes them (and `ANTHROPIC_BASE_URL`) to the agent. */
export const CLAUDE_CREDENTIALS = ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN'] as const;

export interface ProfileBase {
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

export const SANDBOX_DEFAULTS = { sandbox: true, network: true, limits: {}, readOnlyPaths: [] } satisfies Partial<ProfileBase>;

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

/** How long a call waits for its decision when the profile does not say. */
export const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 600;

export type AgentProfile = CommandProfile | ClaudeProfile;

export interface AgentCatalog {
  defaultAgent: string;
  profiles: Map<string, AgentProfile>;
}

const CLAUDE_NEEDS = `needs ${CLAUDE_CREDENTIALS.join(' or ')}`;

/** A `claude` profile's description always says which credential it needs, whoever wrote the rest. */
export function claudeDescription(description: string | undefined): string {
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
