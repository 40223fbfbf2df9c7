import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { DispatcherService } from '../dispatch/dispatcher.service.js';
import { Run } from '../runs/entities/run.entity.js';
import type { AppConfig } from '../config/configuration.js';
import { DatabaseService } from '../database/database.service.js';
import { VERSION } from '../metrics/version.js';

/** How often a server writes its row in `nodes`. */
const HEARTBEAT_MS = 5_000;
/** Rows not written for this long are removed (a node that died without removing its own). */
const FORGET_AFTER_MS = 3_600_000;
/**
 * A node silent this long (six heartbeats) is taken for dead: its running runs are recorded
 * interrupted by the others, at most this plus one heartbeat after it died.
 */
export const NODE_LOST_MS = 30_000;

const UPSERT_SQL =
  'INSERT INTO nodes (id, name, role, version, capacity, running, queued, started_at, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ' +
  'ON CONFLICT (id) DO UPDATE SET running = excluded.running, queued = excluded.queued, seen_at = excluded.seen_at';

/**
 * This server process in the `nodes` table, written every few seconds and removed when it stops;
 * and, on every node, the reaping of runs left `running` by a node that stopped answering (killed,
 * its machine gone): a heartbeat in the database, which every node already shares, rather than
 * a queue's stalled-job detection, because runs are claimed in the database, not from a queue.
 */
@Injectable()
export class NodesService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(NodesService.name);
  private readonly id = randomUUID();
  private readonly startedAt = new Date().toISOString();
  private timer: NodeJS.Timeout | null = null;
  private readonly name: string;
  private readonly role: AppConfig['role'];
  private readonly capacity: number;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly database: DatabaseService,
    private readonly dispatcher: DispatcherService,
    private readonly http: HttpAdapterHost,
  ) {
    this.name = config.get('node', { infer: true });
    this.role = config.get('role', { infer: true });
    this.capacity = this.role === 'api' ? 0 : config.get('agents.maxConcurrent', { infer: true });
  }

  /** Written once the server listens: a process that fails to start is never listed. */
  onApplicationBootstrap(): void {
    const server = this.http.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server) return;
    const start = (): void => {
      void this.beat();
      this.timer = setInterval(() => void this.beat(), HEARTBEAT_MS);
      this.timer.unref();
    };
    if (server.listening) start();
    else server.once('listening', start);
  }

  /**
   * Beats on while the dispatcher drains (its runs are still this node's), and leaves once every
   * module's shutdown step is done; if the database is closed by then, the row just ages out.
   */
  async onApplicationShutdown(): Promise<void> {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    await this.database.query(this.database.dataSource.manager, 'DELETE FROM nodes WHERE id = ?', [this.id]).catch(() => undefined);
  }

  private async beat(): Promise<void> {
    const now = new Date();
    try {
      await this.database.query(this.database.dataSource.manager, UPSERT_SQL, [
        this.id,
        this.name,
        this.role,
        VERSION,
        this.capacity,
        this.dispatcher.activeCount,
        this.dispatcher.queuedCount,
        this.startedAt,
        now.toISOString(),
      ]);
      await this.database.query(this.database.dataSource.manager, 'DELETE FROM nodes WHERE seen_at < ?', [new Date(now.getTime() - FORGET_AFTER_MS).toISOString()]);
    } catch (error) {
      if (!this.dispatcher.isDraining) this.logger.warn(`could not record this node: ${(error as Error).message}`);
      return;
    }
    if (this.dispatcher.isDraining) return;
    await this.reapLostRuns(now).catch((error: Error) => this.logger.warn(`looking for runs of lost nodes failed: ${error.message}`));
  }

  /** Runs `running` for a while on a node that has not written its row for NODE_LOST_MS: recorded interrupted. */
  private async reapLostRuns(now: Date): Promise<void> {
    const cutoff = new Date(now.getTime() - NODE_LOST_MS).toISOString();
    const lost = await this.database.dataSource
      .getRepository(Run)
      .createQueryBuilder('run')
      .where("run.status = 'running'")
      .andWhere('run.startedAt < :cutoff', { cutoff })
      .andWhere('run.node NOT IN (SELECT name FROM nodes WHERE seen_at >= :cutoff)', { cutoff })
      .take(100)
      .getMany();
    for (const run of lost) {
      this.logger.warn({ runId: run.id, node: run.node }, `node ${run.node} has not been heard from for ${NODE_LOST_MS / 1000} s: its run is recorded interrupted`);
      await this.dispatcher.interruptLost(run);
    }
  }
}
