import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { DispatcherService } from '../agents/dispatcher.service.js';
import type { AppConfig } from '../config/configuration.js';
import { DatabaseService } from '../database/database.service.js';
import { VERSION } from '../metrics/version.js';

/** How often a server writes its row in `nodes`. */
const HEARTBEAT_MS = 5_000;
/** Rows not written for this long are removed (a node that died without removing its own). */
const FORGET_AFTER_MS = 3_600_000;

const UPSERT_SQL =
  'INSERT INTO nodes (id, name, role, version, capacity, running, queued, started_at, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ' +
  'ON CONFLICT (id) DO UPDATE SET running = excluded.running, queued = excluded.queued, seen_at = excluded.seen_at';

/** This server process in the `nodes` table, written every few seconds and removed when it stops. */
@Injectable()
export class NodesService implements OnApplicationBootstrap, BeforeApplicationShutdown {
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

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.timer) return;
    clearInterval(this.timer);
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
      this.logger.warn(`could not record this node: ${(error as Error).message}`);
    }
  }
}
