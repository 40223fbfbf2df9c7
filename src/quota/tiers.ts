import type { Tier } from '../config/configuration.js';
import type { ResourceLimits } from '../sandbox/resource-limits.js';

export interface TierLimits {
  /** Runs `running` at once. */
  concurrent: number;
  /** Runs submitted per UTC day. */
  daily: number;
  /** Runs waiting `queued` at once (QUOTA_OVERFLOW=queue). */
  queued: number;
  /** Longest `timeoutSeconds` a run may ask for. */
  maxRunSeconds: number;
  /** Dollars the user's runs may spend per UTC day, as the agents estimate their cost; also the most one run may ask for. */
  dailyBudgetUsd: number;
}

export const TIERS: Record<Tier, TierLimits> = {
  free: { concurrent: 1, daily: 10, queued: 5, maxRunSeconds: 1800, dailyBudgetUsd: 1 },
  standard: { concurrent: 3, daily: 50, queued: 20, maxRunSeconds: 3600, dailyBudgetUsd: 20 },
  premium: { concurrent: 10, daily: 200, queued: 50, maxRunSeconds: 7200, dailyBudgetUsd: 100 },
};

/** What each run of a tier may use (processes, open files, file size, address space); a profile can only lower these. */
export const TIER_RESOURCES: Record<Tier, ResourceLimits> = {
  free: { processes: 512, openFiles: 1024, fileSizeMb: 1024, addressSpaceMb: null },
  standard: { processes: 2048, openFiles: 4096, fileSizeMb: 4096, addressSpaceMb: null },
  premium: { processes: 8192, openFiles: 8192, fileSizeMb: 16384, addressSpaceMb: null },
};

export function isTier(value: string | null | undefined): value is Tier {
  return value === 'free' || value === 'standard' || value === 'premium';
}
