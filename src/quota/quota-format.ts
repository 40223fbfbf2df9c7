import { CliError } from '../common/cli-output.js';
import type { QuotaSummary, UserQuotaView } from './quota.view.js';

// How the `users` and `quota` commands print and parse, whether they read the local database or
// ask a server: one format for both.

/** Marks an override to clear; commander would replace a parser's `null` by the raw text. */
export const CLEAR = 'default';
export type Setting<T> = T | typeof CLEAR;

/** `--daily 100` sets an override; `--daily default` clears it back to the tier's figure. */
export function overrideValue(value: string, flag: string, min: number): Setting<number> {
  if (value === CLEAR || value === 'none') return CLEAR;
  if (!/^\d+$/.test(value) || Number(value) < min) {
    throw new CliError(`${flag} takes a whole number${min > 0 ? ` of at least ${min}` : ''}, or "default" to clear the override`, 2);
  }
  return Number(value);
}

/** `--daily-budget-usd 2.50` sets an override in dollars; `default` clears it. */
export function budgetOverrideValue(value: string, flag: string): Setting<number> {
  if (value === CLEAR || value === 'none') return CLEAR;
  if (!/^\d+(\.\d+)?$/.test(value)) throw new CliError(`${flag} takes an amount of dollars such as 2.50, or "default" to clear the override`, 2);
  return Number(value);
}

/** `$0.42 of $20.00 today`: the day's spend against the budget, as the agents estimated it. */
export function budgetLine(budget: QuotaSummary['budget']): string {
  return `$${budget.usedUsd.toFixed(2)} of $${budget.limitUsd.toFixed(2)} today`;
}

export function describeUserQuota(view: UserQuotaView): string {
  const mark = (key: keyof UserQuotaView['overrides']): string => (view.overrides[key] !== null ? ' (override)' : '');
  return [
    `user        ${view.userId}${view.role === 'admin' ? ' (admin)' : ''}`,
    `tier        ${view.tier}${mark('tier')}`,
    `concurrent  ${view.concurrent.used}/${view.concurrent.limit}${mark('concurrent')}`,
    `queued      ${view.queued.used}/${view.queued.limit}${mark('queued')}`,
    `daily       ${view.daily.used}/${view.daily.limit}${mark('daily')}, resets ${view.daily.resetsAt}`,
    `max run     ${view.maxRunSeconds}s${mark('maxRunSeconds')}`,
    `budget      ${budgetLine(view.budget)}${mark('dailyBudgetUsd')}`,
  ].join('\n') + '\n';
}

export const USER_COLUMNS = ['user', 'role', 'tier', 'running', 'queued', 'today', 'last seen'];

export function userRow(user: UserQuotaView): Record<string, string> {
  return {
    user: user.userId,
    role: user.role,
    tier: user.tier,
    running: `${user.concurrent.used}/${user.concurrent.limit}`,
    queued: `${user.queued.used}/${user.queued.limit}`,
    today: `${user.daily.used}/${user.daily.limit}`,
    'last seen': user.lastSeenAt,
  };
}
