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
}

/** A user's own settings over their tier's figures; null where the tier's figure applies. */
export class QuotaOverrides {
  tier: Tier | null;
  concurrent: number | null;
  daily: number | null;
  queued: number | null;
  maxRunSeconds: number | null;
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
