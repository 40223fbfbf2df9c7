import type { Tier } from '../config/configuration.js';

export interface TierLimits {
  /** Runs `running` at once. */
  concurrent: number;
  /** Runs submitted per UTC day. */
  daily: number;
  /** Runs waiting `queued` at once (QUOTA_OVERFLOW=queue). */
  queued: number;
  /** Longest `timeoutSeconds` a run may ask for. */
  maxRunSeconds: number;
}

export const TIERS: Record<Tier, TierLimits> = {
  free: { concurrent: 1, daily: 10, queued: 5, maxRunSeconds: 1800 },
  standard: { concurrent: 3, daily: 50, queued: 20, maxRunSeconds: 3600 },
  premium: { concurrent: 10, daily: 200, queued: 50, maxRunSeconds: 7200 },
};

export function isTier(value: string | null | undefined): value is Tier {
  return value === 'free' || value === 'standard' || value === 'premium';
}
