import type { UserRole } from '../auth/user.entity.js';
import type { Tier } from '../config/configuration.js';

export class QuotaUsage {
  used: number;
  limit: number;
}

export class DailyQuotaUsage extends QuotaUsage {
  /** The next 00:00 UTC, when the count starts again. */
  resetsAt: string;
}

/** Dollars spent today against the daily budget. */
export class BudgetUsage {
  /** What the user's runs that finished since 00:00 UTC cost, as the agent (the Claude Agent SDK) estimated it. */
  usedUsd: number;
  limitUsd: number;
}

/** A user's limits and usage (API.md "Quota object"). */
export class QuotaSummary {
  tier: Tier;
  /** Runs `running` at once. */
  concurrent: QuotaUsage;
  /** Runs waiting `queued` at once (QUOTA_OVERFLOW=queue). */
  queued: QuotaUsage;
  /** Runs submitted since 00:00 UTC. */
  daily: DailyQuotaUsage;
  /** Longest `timeoutSeconds` a run may ask for. */
  maxRunSeconds: number;
  /** Today's spend against the daily budget; it resets with `daily`. */
  budget: BudgetUsage;
}

/** A user's own settings over their tier's figures; null where the tier's figure applies. */
export class QuotaOverrides {
  tier: Tier | null;
  concurrent: number | null;
  daily: number | null;
  queued: number | null;
  maxRunSeconds: number | null;
  dailyBudgetUsd: number | null;
}

/** A user with their quota, for admins. */
export class UserQuotaView extends QuotaSummary {
  userId: string;
  role: UserRole;
  overrides: QuotaOverrides;
  createdAt: string;
  lastSeenAt: string;
}

export class UserQuotaList {
  items: UserQuotaView[];
}
