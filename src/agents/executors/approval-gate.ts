import type { CanUseTool, Options, PermissionResult } from '@anthropic-ai/claude-agent-sdk';
import type { ApprovalPolicy, ClaudeProfile } from '../agent-profiles.js';

/** What a person (or the gate's timeout) decided about one tool call. */
export interface ApprovalDecision {
  decision: 'allow' | 'deny';
  /** For a denial: what the model is told. */
  message?: string;
}

/**
 * Asks for a decision about one tool call and waits for it. Set on a run's execution request by
 * the node that runs it when the profile has `approvals`; `signal` ends the wait when the call is
 * no longer wanted (the run is stopping).
 */
export type RequestApproval = (tool: string, input: Record<string, unknown>, signal: AbortSignal) => Promise<ApprovalDecision>;

/** The tool a permission rule is about: `Bash` for `Bash(git diff:*)`. */
function ruleTool(rule: string): string {
  const paren = rule.indexOf('(');
  return paren === -1 ? rule : rule.slice(0, paren);
}

/** Said to the model when a call that needs no approval would need a prompt: no one answers those on a server. */
function notAllowed(tool: string): string {
  return `${tool} is not allowed for this agent: it is not among its allowed tools, and no one answers permission prompts on this server`;
}

/**
 * Claude Code asks `canUseTool` before a call that no allow rule or permission mode lets through.
 * A gated tool's calls wait for a decision; the profile's allow rules for it are dropped and an
 * `ask` rule added, so neither `allowedTools` nor `acceptEdits` lets them through unasked. Any
 * other call that reaches the callback is refused, as it would be without one (headless, nobody
 * answers prompts).
 */
export function gatedCanUseTool(policy: ApprovalPolicy, requestApproval: RequestApproval, runSignal: AbortSignal): CanUseTool {
  const gated = new Set(policy.tools);
  return async (tool, input, { signal }): Promise<PermissionResult> => {
    if (!gated.has(tool)) return { behavior: 'deny', message: notAllowed(tool) };
    const { decision, message } = await requestApproval(tool, input, AbortSignal.any([signal, runSignal]));
    if (decision === 'allow') return { behavior: 'allow', updatedInput: input };
    return { behavior: 'deny', message: message ?? `a reviewer denied this ${tool} call` };
  };
}

/**
 * The SDK options that put a profile's approval gate in place (none without `approvals` or
 * without a way to ask): spread after the profile's own options, whose `allowedTools` they replace.
 */
export function approvalOptions(
  profile: ClaudeProfile,
  requestApproval: RequestApproval | undefined,
  runSignal: AbortSignal,
): Pick<Options, 'allowedTools' | 'canUseTool' | 'settings'> | Record<string, never> {
  const policy = profile.approvals;
  if (!policy || !requestApproval) return {};
  const gated = new Set(policy.tools);
  return {
    ...(profile.allowedTools ? { allowedTools: profile.allowedTools.filter((rule) => !gated.has(ruleTool(rule))) } : {}),
    settings: { permissions: { ask: [...policy.tools] } },
    canUseTool: gatedCanUseTool(policy, requestApproval, runSignal),
  };
}
