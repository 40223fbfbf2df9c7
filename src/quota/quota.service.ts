import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { EntityManager } from 'typeorm';
import { Run } from '../agents/entities/run.entity.js';
import { User } from '../auth/user.entity.js';
import { ProblemError } from '../common/problem.js';
import type { AppConfig, QuotaOverflow, Tier } from '../config/configuration.js';
import { DatabaseService } from '../database/database.service.js';
import { isTier, TIERS, type TierLimits } from './tiers.js';

export interface QuotaLimits extends TierLimits {
  tier: Tier;
}

export interface QuotaSummary {
  tier: Tier;
  concurrent: { used: number; limit: number };
  queued: { used: number; limit: number };
  daily: { used: number; limit: number; resetsAt: string };
  maxRunSeconds: number;
}

export function startOfUtcDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

export function nextUtcMidnight(now: Date): Date {
  return new Date(startOfUtcDay(now).getTime() + 86_400_000);
}

/**
 * Per-user limits. Usage is always derived from the runs table, never kept in
 * a counter, so every way a run ends frees its slot with no extra step. Each
 * decision runs inside a transaction that first locks the user's row.
 */
@Injectable()
export class QuotaService {
  private readonly defaultTier: Tier;
  private readonly overflow: QuotaOverflow;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly database: DatabaseService,
  ) {
    this.defaultTier = config.get('quota.defaultTier', { infer: true });
    this.overflow = config.get('quota.overflow', { infer: true });
  }

  limitsFor(user: Pick<User, 'tier'> | null): QuotaLimits {
    const tier = user && isTier(user.tier) ? user.tier : this.defaultTier;
    return { tier, ...TIERS[tier] };
  }

  /**
   * Locks the user's row for the rest of the transaction: `SELECT … FOR UPDATE`
   * on PostgreSQL; on SQLite a write to the row, which takes the database's
   * write lock at once instead of upgrading a read lock later.
   */
  async lockUser(manager: EntityManager, userId: string): Promise<User> {
    if (this.database.isPostgres) {
      const user = await manager
        .getRepository(User)
        .createQueryBuilder('user')
        .setLock('pessimistic_write')
        .where('user.id = :userId', { userId })
        .getOne();
      if (!user) {
        throw new Error(`user ${userId} does not exist`);
      }
      return user;
    }
    await manager.query('UPDATE users SET tier = tier WHERE id = ?', [userId]);
    return manager.getRepository(User).findOneByOrFail({ id: userId });
  }

  /**
   * Admission of a new run, inside the submit transaction. Throws a 429
   * problem when the user is over a limit, a 400 when the run asks for more
   * time than the tier allows.
   */
  async admit(manager: EntityManager, userId: string, timeoutSeconds: number, now: Date): Promise<QuotaLimits> {
    const user = await this.lockUser(manager, userId);
    const limits = this.limitsFor(user);
    if (timeoutSeconds > limits.maxRunSeconds) {
      throw new ProblemError(
        'timeout_exceeds_quota',
        `timeoutSeconds ${timeoutSeconds} is above the ${limits.tier} tier's maximum of ${limits.maxRunSeconds}`,
        { extensions: { limit: limits.maxRunSeconds } },
      );
    }
    const runs = manager.getRepository(Run);
    const dailyUsed = await runs
      .createQueryBuilder('run')
      .where('run.userId = :userId AND run.createdAt >= :since', { userId, since: startOfUtcDay(now).toISOString() })
      .getCount();
    if (dailyUsed >= limits.daily) {
      const resetsAt = nextUtcMidnight(now);
      throw this.refusal('daily_limit', `daily limit of ${limits.daily} runs reached`, limits.daily, dailyUsed, Math.ceil((resetsAt.getTime() - now.getTime()) / 1000), { resetsAt: resetsAt.toISOString() });
    }
    if (this.overflow === 'queue') {
      const queued = await runs.countBy({ userId, status: 'queued' });
      if (queued >= limits.queued) {
        throw this.refusal('queue_full', `${queued} runs are already waiting; the limit is ${limits.queued}`, limits.queued, queued, 5);
      }
    } else {
      const active = await runs
        .createQueryBuilder('run')
        .where('run.userId = :userId AND run.status IN (:...statuses)', { userId, statuses: ['queued', 'running'] })
        .getCount();
      if (active >= limits.concurrent) {
        throw this.refusal('concurrency_limit', `${active} runs are already queued or running; the limit is ${limits.concurrent}`, limits.concurrent, active, 5);
      }
    }
    return limits;
  }

  async summary(userId: string, now = new Date()): Promise<QuotaSummary> {
    const manager = this.database.dataSource.manager;
    const user = await manager.getRepository(User).findOneBy({ id: userId });
    const limits = this.limitsFor(user);
    const runs = manager.getRepository(Run);
    const [running, queued, daily] = await Promise.all([
      runs.countBy({ userId, status: 'running' }),
      runs.countBy({ userId, status: 'queued' }),
      runs
        .createQueryBuilder('run')
        .where('run.userId = :userId AND run.createdAt >= :since', { userId, since: startOfUtcDay(now).toISOString() })
        .getCount(),
    ]);
    return {
      tier: limits.tier,
      concurrent: { used: running, limit: limits.concurrent },
      queued: { used: queued, limit: limits.queued },
      daily: { used: daily, limit: limits.daily, resetsAt: nextUtcMidnight(now).toISOString() },
      maxRunSeconds: limits.maxRunSeconds,
    };
  }

  private refusal(
    code: 'daily_limit' | 'queue_full' | 'concurrency_limit',
    detail: string,
    limit: number,
    used: number,
    retryAfterSeconds: number,
    extra: Record<string, unknown> = {},
  ): ProblemError {
    return new ProblemError(code, detail, {
      extensions: { limit, used, ...extra },
      headers: { 'Retry-After': String(Math.max(1, retryAfterSeconds)) },
    });
  }
}
