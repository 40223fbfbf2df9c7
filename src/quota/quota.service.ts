import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { EntityManager } from 'typeorm';
import { Run } from '../runs/entities/run.entity.js';
import { User } from '../auth/user.entity.js';
import { Clock } from '../common/clock.js';
import { ProblemError } from '../common/problem.js';
import type { AppConfig, QuotaOverflow, Tier } from '../config/configuration.js';
import { DatabaseService } from '../database/database.service.js';
import { RunMetrics, type RejectionReason } from '../metrics/metrics.service.js';
import type { QuotaOverrides, QuotaSummary, UserQuotaView } from './quota.view.js';
import { isTier, TIERS, type TierLimits } from './tiers.js';

export interface QuotaLimits extends TierLimits {
  tier: Tier;
}

/** The limits a run starts under: its owner's, and what is left of their budget today. */
export interface StartLimits extends QuotaLimits {
  budgetLeftUsd: number;
}

/** An admin's change to a user's quota: a value sets an override, `null` clears it, absent leaves it. */
export interface QuotaChange {
  tier?: Tier | null;
  concurrent?: number | null;
  daily?: number | null;
  queued?: number | null;
  maxRunSeconds?: number | null;
  dailyBudgetUsd?: number | null;
}

/** The quota columns of a user, as a write transaction reads them. */
const USER_QUOTA_SQL = 'SELECT tier, quota_concurrent, quota_daily, quota_queued, quota_max_run_seconds, quota_daily_budget_usd FROM users WHERE id = ?';

interface UserQuotaRow {
  tier: string | null;
  quota_concurrent: number | null;
  quota_daily: number | null;
  quota_queued: number | null;
  quota_max_run_seconds: number | null;
  quota_daily_budget_usd: number | null;
}

/**
 * A user's runs created since a time, queued, and running, and what those
 * that finished since that time cost, in one statement (one round trip of a
 * submit). Counts rather than one conditional count: a run queued before
 * today still holds a slot, and each count is answered from its own index.
 * Parameters: user, since, user, user, user, since.
 */
const usageSql = (isPostgres: boolean): string =>
  'SELECT (SELECT COUNT(*) FROM runs WHERE user_id = ? AND created_at >= ?) AS daily,' +
  " (SELECT COUNT(*) FROM runs WHERE user_id = ? AND status = 'queued') AS queued," +
  " (SELECT COUNT(*) FROM runs WHERE user_id = ? AND status = 'running') AS running," +
  ` (${spentSql(isPostgres)}) AS spent`;

/** PostgreSQL answers COUNT(*) as a bigint, which arrives as a string. */
interface UsageRow {
  daily: number | string;
  queued: number | string;
  running: number | string;
  spent: number | string | null;
}

/** What a claim needs, in one statement: the user's running runs, and what their runs that finished since a time cost. Parameters: user, user, since. */
const startUsageSql = (isPostgres: boolean): string => `SELECT (SELECT COUNT(*) FROM runs WHERE user_id = ? AND status = 'running') AS running, (${spentSql(isPostgres)}) AS spent`;

/** A run's cost as the agent reported it at its end, from the JSON of its stored result. */
function costSql(isPostgres: boolean, column: string): string {
  return isPostgres ? `CAST(CAST(${column} AS json)->>'costUsd' AS double precision)` : `json_extract(${column}, '$.costUsd')`;
}

/** What a user's runs that finished since a time cost. */
const spentSql = (isPostgres: boolean): string =>
  `SELECT COALESCE(SUM(${costSql(isPostgres, 'result')}), 0) AS spent FROM runs WHERE user_id = ? AND finished_at >= ? AND result IS NOT NULL`;

/** Dollars as the API shows them: sums of floating-point costs, without their noise. */
function dollars(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** A user's usage: runs running, queued and submitted today, and what the runs that finished today cost. */
interface Usage {
  running: number;
  queued: number;
  daily: number;
  spentUsd: number;
}

/** Seconds a client is told to wait after `queue_full` or `concurrency_limit`: a run typically frees a slot by then. */
const SLOT_RETRY_SECONDS = 5;

export function startOfUtcDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

export function nextUtcMidnight(now: Date): Date {
  return new Date(startOfUtcDay(now).getTime() + 86_400_000);
}

const OVERRIDE_RANGES: Record<Exclude<keyof QuotaChange, 'tier' | 'dailyBudgetUsd'>, [number, number]> = {
  concurrent: [0, 10_000],
  daily: [0, 1_000_000],
  queued: [0, 100_000],
  maxRunSeconds: [1, 7 * 24 * 3600],
};

const MAX_DAILY_BUDGET_USD = 1_000_000;

/** The service checks what it stores, whichever door (HTTP, CLI) the change came through. */
function assertValidChange(change: QuotaChange): void {
  if (change.tier !== undefined && change.tier !== null && !isTier(change.tier)) {
    throw new ProblemError('validation_failed', 'tier must be free, standard or premium');
  }
  const budget = change.dailyBudgetUsd;
  if (budget !== undefined && budget !== null && (typeof budget !== 'number' || !Number.isFinite(budget) || budget < 0 || budget > MAX_DAILY_BUDGET_USD)) {
    throw new ProblemError('validation_failed', `dailyBudgetUsd must be a number of dollars from 0 to ${MAX_DAILY_BUDGET_USD}, or null`);
  }
  for (const [key, [min, max]] of Object.entries(OVERRIDE_RANGES)) {
    const value = change[key as keyof typeof OVERRIDE_RANGES];
    if (value !== undefined && value !== null && (!Number.isInteger(value) || value < min || value > max)) {
      throw new ProblemError('validation_failed', `${key} must be a whole number from ${min} to ${max}, or null`);
    }
  }
}

type QuotaColumns = Pick<User, 'tier' | 'quotaConcurrent' | 'quotaDaily' | 'quotaQueued' | 'quotaMaxRunSeconds' | 'quotaDailyBudgetUsd'>;

function overridesOf(user: QuotaColumns | null): QuotaOverrides {
  return {
    tier: user && isTier(user.tier) ? user.tier : null,
    concurrent: user?.quotaConcurrent ?? null,
    daily: user?.quotaDaily ?? null,
    queued: user?.quotaQueued ?? null,
    maxRunSeconds: user?.quotaMaxRunSeconds ?? null,
    dailyBudgetUsd: user?.quotaDailyBudgetUsd ?? null,
  };
}

/**
 * Per-user limits: a tier's figures with per-user overrides. Usage is always
 * derived from the runs table, never kept in a counter, so every way a run
 * ends frees its slot with no extra step. Each decision runs inside a
 * transaction that first locks the user's row, so it holds across replicas.
 */
@Injectable()
export class QuotaService {
  private readonly logger = new Logger(QuotaService.name);
  private readonly defaultTier: Tier;
  private readonly overflow: QuotaOverflow;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly database: DatabaseService,
    private readonly clock: Clock,
    private readonly metrics: RunMetrics,
  ) {
    this.defaultTier = config.get('quota.defaultTier', { infer: true });
    this.overflow = config.get('quota.overflow', { infer: true });
  }

  limitsFor(user: QuotaColumns | null): QuotaLimits {
    const overrides = overridesOf(user);
    const tier = overrides.tier ?? this.defaultTier;
    const base = TIERS[tier];
    return {
      tier,
      concurrent: overrides.concurrent ?? base.concurrent,
      daily: overrides.daily ?? base.daily,
      queued: overrides.queued ?? base.queued,
      maxRunSeconds: overrides.maxRunSeconds ?? base.maxRunSeconds,
      dailyBudgetUsd: overrides.dailyBudgetUsd ?? base.dailyBudgetUsd,
    };
  }

  /**
   * The user's limits, read inside a write transaction with the user's row
   * locked for the rest of it: `SELECT … FOR UPDATE` on PostgreSQL; on SQLite
   * the transaction began IMMEDIATE, so it already excludes every other writer.
   */
  async lockUser(manager: EntityManager, userId: string): Promise<QuotaLimits> {
    const sql = this.database.isPostgres ? `${USER_QUOTA_SQL} FOR UPDATE` : USER_QUOTA_SQL;
    const [row] = (await this.database.query<UserQuotaRow>(manager, sql, [userId])).rows;
    if (!row) throw new Error(`user ${userId} does not exist`);
    return this.limitsFor({
      tier: row.tier,
      quotaConcurrent: row.quota_concurrent,
      quotaDaily: row.quota_daily,
      quotaQueued: row.quota_queued,
      quotaMaxRunSeconds: row.quota_max_run_seconds,
      quotaDailyBudgetUsd: row.quota_daily_budget_usd,
    });
  }

  /**
   * Admission of a new run, inside the submit transaction: the daily count
   * since 00:00 UTC, today's spend against the daily budget, then the user's
   * queued runs (QUOTA_OVERFLOW=queue) or queued and running runs (reject).
   * Throws a 429 problem over a limit, and a 400 when the run asks for more
   * time, or a larger budget, than the user may have in a day. Answers the
   * user's limits and how many of their runs wait queued ahead of this one.
   */
  async admit(manager: EntityManager, userId: string, timeoutSeconds: number | undefined, now: Date, maxBudgetUsd?: number): Promise<QuotaLimits & { queuedAhead: number }> {
    const limits = await this.lockUser(manager, userId);
    if (timeoutSeconds !== undefined && timeoutSeconds > limits.maxRunSeconds) {
      throw new ProblemError(
        'timeout_exceeds_quota',
        `timeoutSeconds ${timeoutSeconds} is above this user's maximum of ${limits.maxRunSeconds} (${limits.tier} tier)`,
        { extensions: { limit: limits.maxRunSeconds } },
      );
    }
    if (maxBudgetUsd !== undefined && maxBudgetUsd > limits.dailyBudgetUsd) {
      throw new ProblemError(
        'budget_exceeds_quota',
        `maxBudgetUsd ${maxBudgetUsd} is above this user's daily budget of ${limits.dailyBudgetUsd} USD (${limits.tier} tier)`,
        { extensions: { limitUsd: limits.dailyBudgetUsd } },
      );
    }
    const since = startOfUtcDay(now).toISOString();
    const [usage] = (await this.database.query<UsageRow>(manager, usageSql(this.database.isPostgres), [userId, since, userId, userId, userId, since])).rows;
    const dailyUsed = Number(usage?.daily ?? 0);
    if (dailyUsed >= limits.daily) {
      const resetsAt = nextUtcMidnight(now);
      throw this.refuse('daily_limit', `the daily limit of ${limits.daily} runs is reached; it resets at ${resetsAt.toISOString()}`, limits.daily, dailyUsed, Math.ceil((resetsAt.getTime() - now.getTime()) / 1000), { resetsAt: resetsAt.toISOString() });
    }
    const spent = dollars(Number(usage?.spent ?? 0));
    if (spent >= limits.dailyBudgetUsd) {
      const resetsAt = nextUtcMidnight(now);
      throw this.refuse('budget_exhausted', `today's budget of ${limits.dailyBudgetUsd} USD is spent (${spent} USD); it resets at ${resetsAt.toISOString()}`, limits.dailyBudgetUsd, spent, Math.ceil((resetsAt.getTime() - now.getTime()) / 1000), { resetsAt: resetsAt.toISOString() });
    }
    const queued = Number(usage?.queued ?? 0);
    if (this.overflow === 'queue') {
      if (queued >= limits.queued) {
        throw this.refuse('queue_full', `${queued} runs are already waiting; the limit is ${limits.queued}`, limits.queued, queued, SLOT_RETRY_SECONDS);
      }
    } else {
      const active = queued + Number(usage?.running ?? 0);
      if (active >= limits.concurrent) {
        throw this.refuse('concurrency_limit', `${active} runs are already queued or running; the limit is ${limits.concurrent}`, limits.concurrent, active, SLOT_RETRY_SECONDS);
      }
    }
    return { ...limits, queuedAhead: queued };
  }

  /**
   * Start-time check, inside the dispatcher's claim transaction: the user's
   * limits and what is left of today's budget when one more of their runs may
   * be `running`, else null. A run waits while the day's budget is spent:
   * until the reset at 00:00 UTC, or until it is cancelled.
   */
  async startLimits(manager: EntityManager, userId: string): Promise<StartLimits | null> {
    const limits = await this.lockUser(manager, userId);
    const since = startOfUtcDay(this.clock.now()).toISOString();
    const [row] = (await this.database.query<{ running: number | string; spent: number | string | null }>(manager, startUsageSql(this.database.isPostgres), [userId, userId, since])).rows;
    if (Number(row?.running ?? 0) >= limits.concurrent) return null;
    const budgetLeftUsd = dollars(limits.dailyBudgetUsd - Number(row?.spent ?? 0));
    return budgetLeftUsd > 0 ? { ...limits, budgetLeftUsd } : null;
  }

  async summary(userId: string): Promise<QuotaSummary> {
    const user = await this.database.dataSource.getRepository(User).findOneBy({ id: userId });
    const [view] = await this.describe(user ? [user] : [], userId);
    if (!view) return this.toSummary(this.limitsFor(null), { running: 0, queued: 0, daily: 0, spentUsd: 0 });
    const { tier, concurrent, queued, daily, maxRunSeconds, budget } = view;
    return { tier, concurrent, queued, daily, maxRunSeconds, budget };
  }

  /** Every known user with their limits, overrides and usage. */
  async listUsers(): Promise<UserQuotaView[]> {
    const users = await this.database.dataSource.getRepository(User).find({ order: { id: 'ASC' } });
    return this.describe(users);
  }

  /** Applies an admin's change; a user never seen before is created with it. */
  async change(userId: string, change: QuotaChange): Promise<UserQuotaView> {
    assertValidChange(change);
    const columns: Partial<User> = {};
    if (change.tier !== undefined) columns.tier = change.tier;
    if (change.concurrent !== undefined) columns.quotaConcurrent = change.concurrent;
    if (change.daily !== undefined) columns.quotaDaily = change.daily;
    if (change.queued !== undefined) columns.quotaQueued = change.queued;
    if (change.maxRunSeconds !== undefined) columns.quotaMaxRunSeconds = change.maxRunSeconds;
    if (change.dailyBudgetUsd !== undefined) columns.quotaDailyBudgetUsd = change.dailyBudgetUsd;
    const user = await this.database.transaction(async (manager) => {
      const now = this.clock.now().toISOString();
      await manager
        .createQueryBuilder()
        .insert()
        .into(User)
        .values({ id: userId, role: 'user', createdAt: now, lastSeenAt: now })
        .orIgnore()
        .execute();
      if (Object.keys(columns).length > 0) await manager.update(User, { id: userId }, columns);
      return manager.findOneByOrFail(User, { id: userId });
    });
    const [view] = await this.describe([user]);
    return view!;
  }

  private async describe(users: User[], onlyUserId?: string): Promise<UserQuotaView[]> {
    if (users.length === 0) return [];
    const since = startOfUtcDay(this.clock.now()).toISOString();
    const runs = this.database.dataSource.getRepository(Run);
    const scoped = <T extends { andWhere(where: string, params?: object): T }>(query: T): T =>
      onlyUserId === undefined ? query : query.andWhere('run.userId = :onlyUserId', { onlyUserId });
    const [active, daily, spent] = await Promise.all([
      scoped(
        runs
          .createQueryBuilder('run')
          .select('run.userId', 'userId')
          .addSelect('run.status', 'status')
          .addSelect('COUNT(*)', 'count')
          .where('run.status IN (:...statuses)', { statuses: ['queued', 'running'] }),
      )
        .groupBy('run.userId')
        .addGroupBy('run.status')
        .getRawMany<{ userId: string; status: string; count: string | number }>(),
      scoped(
        runs
          .createQueryBuilder('run')
          .select('run.userId', 'userId')
          .addSelect('COUNT(*)', 'count')
          .where('run.createdAt >= :since', { since }),
      )
        .groupBy('run.userId')
        .getRawMany<{ userId: string; count: string | number }>(),
      scoped(
        runs
          .createQueryBuilder('run')
          .select('run.userId', 'userId')
          .addSelect(`COALESCE(SUM(${costSql(this.database.isPostgres, 'run.result')}), 0)`, 'spent')
          .where('run.finishedAt >= :since', { since })
          .andWhere('run.result IS NOT NULL'),
      )
        .groupBy('run.userId')
        .getRawMany<{ userId: string; spent: string | number | null }>(),
    ]);
    const usage = new Map<string, Usage>();
    const of = (id: string) => usage.get(id) ?? usage.set(id, { running: 0, queued: 0, daily: 0, spentUsd: 0 }).get(id)!;
    for (const row of active) of(row.userId)[row.status === 'running' ? 'running' : 'queued'] = Number(row.count);
    for (const row of daily) of(row.userId).daily = Number(row.count);
    for (const row of spent) of(row.userId).spentUsd = dollars(Number(row.spent ?? 0));
    return users.map((user) => ({
      userId: user.id,
      role: user.role,
      overrides: overridesOf(user),
      createdAt: user.createdAt,
      lastSeenAt: user.lastSeenAt,
      ...this.toSummary(this.limitsFor(user), of(user.id)),
    }));
  }

  private toSummary(limits: QuotaLimits, used: Usage): QuotaSummary {
    return {
      tier: limits.tier,
      concurrent: { used: used.running, limit: limits.concurrent },
      queued: { used: used.queued, limit: limits.queued },
      daily: { used: used.daily, limit: limits.daily, resetsAt: nextUtcMidnight(this.clock.now()).toISOString() },
      maxRunSeconds: limits.maxRunSeconds,
      budget: { usedUsd: used.spentUsd, limitUsd: limits.dailyBudgetUsd },
    };
  }

  /** Every refusal passes here, and is counted here. */
  private refuse(reason: RejectionReason, detail: string, limit: number, used: number, retryAfterSeconds: number, extra: Record<string, unknown> = {}): ProblemError {
    this.logger.debug(`admission refused: ${reason} (${used}/${limit})`);
    this.metrics.quotaRejected(reason);
    // Dollars are not counts: the budget's figures have names of their own.
    const usage = reason === 'budget_exhausted' ? { limitUsd: limit, usedUsd: used } : { limit, used };
    return new ProblemError(reason, detail, {
      extensions: { ...usage, ...extra },
      headers: { 'Retry-After': String(Math.max(1, retryAfterSeconds)) },
    });
  }
}
