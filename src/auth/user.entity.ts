import { Column, Entity, PrimaryColumn } from 'typeorm';

export type UserRole = 'user' | 'admin';

/** A user, created the first time a valid token names it in `sub`. */
@Entity({ name: 'users' })
export class User {
  @PrimaryColumn({ type: 'varchar', length: 128 })
  id: string;

  @Column({ type: 'varchar', length: 16, default: 'user' })
  role: UserRole;

  /** Quota tier; null means the server's `QUOTA_DEFAULT_TIER`. */
  @Column({ type: 'varchar', length: 16, nullable: true })
  tier: string | null;

  /** Per-user quota overrides; null means the tier's figure. */
  @Column({ name: 'quota_concurrent', type: 'integer', nullable: true })
  quotaConcurrent: number | null;

  @Column({ name: 'quota_daily', type: 'integer', nullable: true })
  quotaDaily: number | null;

  @Column({ name: 'quota_queued', type: 'integer', nullable: true })
  quotaQueued: number | null;

  @Column({ name: 'quota_max_run_seconds', type: 'integer', nullable: true })
  quotaMaxRunSeconds: number | null;

  @Column({ name: 'quota_daily_budget_usd', type: 'double precision', nullable: true })
  quotaDailyBudgetUsd: number | null;

  @Column({ name: 'created_at', type: 'varchar', length: 32 })
  createdAt: string;

  @Column({ name: 'last_seen_at', type: 'varchar', length: 32 })
  lastSeenAt: string;
}
