import { Injectable, Optional } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HealthIndicatorService } from '@nestjs/terminus';
import { statfs, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DispatcherService } from '../dispatch/dispatcher.service.js';
import { RunRelayService } from '../dispatch/run-relay.service.js';
import type { AppConfig } from '../config/configuration.js';
import { DatabaseService } from '../database/database.service.js';
import type { NodeView } from '../daemon/node.view.js';
import { listNodes } from '../daemon/nodes.js';

/** Longest a single probe may take before it counts as down. */
export const PROBE_TIMEOUT_MS = 2_000;
/** The dispatcher loop ticks every second; this long without a tick means it is stuck. */
const LOOP_STALE_MS = 10_000;

/**
 * What readiness checks, each probe real and time-boxed: the database
 * answers a query, the dispatcher loop is turning, the data directory has
 * room and can be written, crash recovery is done, and the server is not
 * shutting down.
 */
@Injectable()
export class HealthIndicators {
  private readonly dataDir: string;
  private readonly minFreeBytes: number;

  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly database: DatabaseService,
    private readonly dispatcher: DispatcherService,
    config: ConfigService<AppConfig, true>,
    @Optional() private readonly relay?: RunRelayService,
  ) {
    this.dataDir = config.get('dataDir', { infer: true });
    this.minFreeBytes = config.get('health.minFreeMb', { infer: true }) * 1024 * 1024;
  }

  databaseAnswers() {
    return this.indicators
      .check('database')
      .attempt(async () => {
        await this.database.ping();
        return { driver: this.database.isPostgres ? 'postgres' : 'sqlite' };
      })
      .withTimeout(PROBE_TIMEOUT_MS);
  }

  queue() {
    const session = this.indicators.check('queue');
    const { runsAgents, lastTickAt } = this.dispatcher.loop;
    if (!runsAgents) return session.up({ detail: 'this node runs no agents (ROLE=api)', queued: this.dispatcher.queuedCount });
    const age = Date.now() - lastTickAt;
    return age <= LOOP_STALE_MS
      ? session.up({ adapter: this.dispatcher.queueAdapter, lastTickMsAgo: age, active: this.dispatcher.activeCount, queued: this.dispatcher.queuedCount })
      : session.down({ message: `the dispatcher loop has not run for ${Math.round(age / 1000)} s` });
  }

  disk() {
    return this.indicators
      .check('disk')
      .attempt(async () => {
        const stats = await statfs(this.dataDir);
        const free = stats.bavail * stats.bsize;
        if (free < this.minFreeBytes) {
          throw new Error(`${Math.floor(free / 1048576)} MB free under DATA_DIR, below HEALTH_MIN_FREE_MB (${this.minFreeBytes / 1048576})`);
        }
        const probe = join(this.dataDir, `.health-probe-${process.pid}`);
        await writeFile(probe, 'ok');
        await unlink(probe);
        return { freeMb: Math.floor(free / 1048576) };
      })
      .withTimeout(PROBE_TIMEOUT_MS);
  }

  /** Down until what an unclean stop left running is ended and recorded: until then no queued run starts. */
  recovery() {
    const session = this.indicators.check('recovery');
    const { done, leftovers } = this.dispatcher.recoveryState;
    if (done) return session.up();
    return session.down({
      message: leftovers === null ? 'looking for runs left running by an unclean stop' : `ending ${leftovers} run(s) left running by an unclean stop`,
    });
  }

  /**
   * Redis, when configured: down means the nodes fall back to polling the database for each
   * other's run events and cancels, slower but complete, so it degrades the node (in the
   * detailed report) without taking it out of readiness. Null when Redis is not configured.
   */
  async redis(): Promise<{ status: 'up' | 'down'; detail: Record<string, unknown> } | null> {
    if (!this.relay?.state.configured) return null;
    const { received, lastError } = this.relay.state;
    try {
      const started = Date.now();
      await this.relay.ping(PROBE_TIMEOUT_MS);
      return { status: 'up', detail: { responseTime: Date.now() - started, messagesFromOtherNodes: received } };
    } catch (error) {
      return {
        status: 'down',
        detail: { message: `Redis is unreachable (${lastError ?? (error as Error).message}): queued runs wait for it; run events and cancels from other nodes arrive by polling the database` },
      };
    }
  }

  /** Readiness of a worker (Terminus): without Redis it gets no runs, so it says so. */
  async redisForWorker() {
    const session = this.indicators.check('redis');
    const redis = await this.redis();
    if (!redis) return session.up({ detail: 'no REDIS_URL' });
    return redis.status === 'up' ? session.up(redis.detail) : session.down(redis.detail);
  }

  /** The server processes sharing the database, from their heartbeats; empty when it cannot be read. */
  nodes(): Promise<NodeView[]> {
    return listNodes(this.database).catch(() => []);
  }

  draining() {
    const session = this.indicators.check('draining');
    return this.dispatcher.isDraining ? session.down({ message: 'the server is shutting down' }) : session.up();
  }
}
