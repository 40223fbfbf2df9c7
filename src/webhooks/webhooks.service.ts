import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { randomBytes } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { RunStatus } from '../runs/entities/run.entity.js';
import type { RunView } from '../runs/run.view.js';
import { Clock } from '../common/clock.js';
import { decodeCursor, encodeCursor, type Page } from '../common/pagination.js';
import { ProblemError } from '../common/problem.js';
import { uuidv7 } from '../common/uuid7.js';
import type { AppConfig } from '../config/configuration.js';
import { DatabaseService } from '../database/database.service.js';
import { AddressNotAllowedError, checkWebhookHost } from './address-guard.js';
import { WEBHOOK_EVENT_TYPES, type WebhookDeliveryView, type WebhookEndpointView, type WebhookEventType } from './webhook.view.js';

/** Endpoints a user may register: every run's events go to each of them. */
export const MAX_ENDPOINTS_PER_USER = 20;

/** A delivery is retried for this long after it was written (or redelivered). */
export const DELIVERY_RETRY_WINDOW_MS = 24 * 60 * 60 * 1000;

const ENDPOINT_COLUMNS = 'id, user_id, url, events, secret, created_at, failing_since, disabled_at, disabled_reason';
const DELIVERY_COLUMNS =
  'id, endpoint_id, event_type, status, attempts, next_attempt_at, expires_at, last_attempt_at, last_status_code, last_error, created_at, delivered_at';

export interface EndpointRow {
  id: string;
  user_id: string;
  url: string;
  events: string | null;
  secret: string;
  created_at: string;
  failing_since: string | null;
  disabled_at: string | null;
  disabled_reason: string | null;
}

interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_type: string;
  status: string;
  attempts: number;
  next_attempt_at: string | null;
  expires_at: string;
  last_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

/** The event a run's status announces, if any. */
const EVENT_OF_STATUS: Partial<Record<RunStatus, WebhookEventType>> = {
  running: 'run.started',
  succeeded: 'run.succeeded',
  failed: 'run.failed',
  cancelled: 'run.cancelled',
  timed_out: 'run.timed_out',
  interrupted: 'run.interrupted',
};

/** Webhook endpoints of users, and the outbox of deliveries written with the changes they announce. */
@Injectable()
export class WebhooksService {
  private readonly allowPrivate: boolean;
  private readonly listeners = new Set<() => void>();

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly database: DatabaseService,
    private readonly clock: Clock,
  ) {
    this.allowPrivate = config.get('webhooks.allowPrivateNetworks', { infer: true });
  }

  get allowsPrivateNetworks(): boolean {
    return this.allowPrivate;
  }

  async create(userId: string, request: { url: string; events?: WebhookEventType[] }): Promise<WebhookEndpointView & { secret: string }> {
    const url = await this.checkUrl(request.url);
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const createdAt = this.clock.now().toISOString();
    const id = uuidv7();
    const events = request.events === undefined ? null : [...new Set(request.events)].sort();
    await this.database.transaction(async (manager) => {
      // Counted under the user's lock (PostgreSQL): two creates cannot both pass the limit.
      if (this.database.isPostgres) await this.database.query(manager, 'SELECT id FROM users WHERE id = ? FOR UPDATE', [userId]);
      const { rows } = await this.database.query<{ n: number | string }>(manager, 'SELECT COUNT(*) AS n FROM webhook_endpoints WHERE user_id = ?', [userId]);
      if (Number(rows[0]?.n ?? 0) >= MAX_ENDPOINTS_PER_USER) {
        throw new ProblemError('validation_failed', `a user may have at most ${MAX_ENDPOINTS_PER_USER} webhook endpoints; delete one first`);
      }
      await this.database.query(manager, 'INSERT INTO webhook_endpoints (id, user_id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
        id,
        userId,
        url.toString(),
        events === null ? null : JSON.stringify(events),
        secret,
        createdAt,
      ]);
    });
    return { ...toEndpointView({ id, user_id: userId, url: url.toString(), events: events && JSON.stringify(events), secret, created_at: createdAt, failing_since: null, disabled_at: null, disabled_reason: null }), secret };
  }

  async list(userId: string): Promise<{ items: WebhookEndpointView[] }> {
    const manager = this.database.dataSource.manager;
    const { rows } = await this.database.query<EndpointRow>(manager, `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE user_id = ? ORDER BY created_at, id`, [userId]);
    return { items: rows.map(toEndpointView) };
  }

  async remove(userId: string, id: string): Promise<void> {
    await this.database.transaction(async (manager) => {
      await this.findOwn(manager, userId, id);
      // Deliveries go with their endpoint (the foreign key cascades on PostgreSQL; SQLite is told here).
      await this.database.query(manager, 'DELETE FROM webhook_deliveries WHERE endpoint_id = ?', [id]);
      await this.database.query(manager, 'DELETE FROM webhook_endpoints WHERE id = ?', [id]);
    });
  }

  async deliveries(userId: string, id: string, options: { limit?: number; cursor?: string }): Promise<Page<WebhookDeliveryView>> {
    const manager = this.database.dataSource.manager;
    await this.findOwn(manager, userId, id);
    const limit = options.limit ?? 20;
    const cursor = options.cursor === undefined ? null : decodeCursor(options.cursor);
    const { rows } = await this.database.query<DeliveryRow>(
      manager,
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = ?` +
        (cursor ? ' AND (created_at < ? OR (created_at = ? AND id < ?))' : '') +
        ' ORDER BY created_at DESC, id DESC LIMIT ?',
      cursor ? [id, cursor.createdAt, cursor.createdAt, cursor.id, limit + 1] : [id, limit + 1],
    );
    const items = rows.slice(0, limit).map(toDeliveryView);
    const last = rows.length > limit ? rows[limit - 1] : undefined;
    return { items, nextCursor: last ? encodeCursor({ createdAt: last.created_at, id: last.id }) : null };
  }

  /** Sends a delivery again, now, and keeps retrying it for another 24 hours; a disabled endpoint is enabled again. */
  async redeliver(userId: string, id: string, deliveryId: string): Promise<WebhookDeliveryView> {
    const now = this.clock.now();
    const row = await this.database.transaction(async (manager) => {
      await this.findOwn(manager, userId, id);
      await this.database.query(manager, 'UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL, failing_since = NULL WHERE id = ?', [id]);
      const { rows } = await this.database.query<DeliveryRow>(
        manager,
        `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, expires_at = ?, delivered_at = NULL WHERE id = ? AND endpoint_id = ? RETURNING ${DELIVERY_COLUMNS}`,
        [now.toISOString(), new Date(now.getTime() + DELIVERY_RETRY_WINDOW_MS).toISOString(), deliveryId, id],
      );
      if (!rows[0]) throw new ProblemError('webhook_delivery_not_found', `endpoint ${id} has no delivery ${deliveryId}`);
      return rows[0];
    });
    this.wake();
    return toDeliveryView(row);
  }

  /**
   * In the transaction that gives a run this status: a delivery of its event to each of
   * the owner's enabled endpoints that want it. Call `wake` once the transaction committed.
   */
  async enqueue(manager: EntityManager, run: RunView, at: string): Promise<number> {
    const type = EVENT_OF_STATUS[run.status];
    if (!type) return 0;
    return this.enqueueEvent(manager, type, run, at);
  }

  /**
   * In the transaction that records what it announces: a delivery of event `type` about the run
   * to each of the owner's enabled endpoints that want it. Call `wake` once the transaction committed.
   */
  async enqueueEvent(manager: EntityManager, type: WebhookEventType, run: RunView, at: string): Promise<number> {
    const { rows } = await this.database.query<{ id: string; events: string | null }>(
      manager,
      'SELECT id, events FROM webhook_endpoints WHERE user_id = ? AND disabled_at IS NULL',
      [run.userId],
    );
    const targets = rows.filter((endpoint) => endpoint.events === null || (JSON.parse(endpoint.events) as string[]).includes(type));
    if (targets.length === 0) return 0;
    const payload = JSON.stringify({ type, timestamp: at, data: { run } });
    // Scheduled by the clock the delivery loop reads (a test's may stand still).
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + DELIVERY_RETRY_WINDOW_MS).toISOString();
    for (const endpoint of targets) {
      await this.database.query(
        manager,
        "INSERT INTO webhook_deliveries (id, endpoint_id, event_type, payload, status, attempts, next_attempt_at, expires_at, created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
        [uuidv7(), endpoint.id, type, payload, now.toISOString(), expiresAt, at],
      );
    }
    return targets.length;
  }

  /** Tells this process's delivery loop that deliveries are due now. */
  wake(): void {
    for (const listener of this.listeners) listener();
  }

  onWake(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async checkUrl(value: string): Promise<URL> {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new ProblemError('validation_failed', 'url must be an absolute http or https URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ProblemError('validation_failed', 'url must be an http or https URL');
    if (url.username || url.password) throw new ProblemError('validation_failed', 'url must not carry credentials; verify deliveries by their signature');
    try {
      await checkWebhookHost(url, this.allowPrivate);
    } catch (error) {
      if (error instanceof AddressNotAllowedError) {
        throw new ProblemError('webhook_url_not_allowed', `${error.message}; webhooks go to public addresses only on this server`);
      }
      throw new ProblemError('webhook_url_not_allowed', `the host of url could not be resolved: ${(error as Error).message}`);
    }
    return url;
  }

  private async findOwn(manager: EntityManager, userId: string, id: string): Promise<EndpointRow> {
    const { rows } = await this.database.query<EndpointRow>(manager, `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ? AND user_id = ?`, [id, userId]);
    if (!rows[0]) throw new ProblemError('webhook_not_found', `there is no webhook endpoint ${id}`);
    return rows[0];
  }
}

export function toEndpointView(row: EndpointRow): WebhookEndpointView {
  return {
    id: row.id,
    url: row.url,
    events: row.events === null ? [...WEBHOOK_EVENT_TYPES] : (JSON.parse(row.events) as WebhookEventType[]),
    createdAt: row.created_at,
    failingSince: row.failing_since,
    disabledAt: row.disabled_at,
    disabledReason: row.disabled_reason,
  };
}

function toDeliveryView(row: DeliveryRow): WebhookDeliveryView {
  return {
    id: row.id,
    endpointId: row.endpoint_id,
    eventType: row.event_type as WebhookEventType,
    status: row.status as WebhookDeliveryView['status'],
    attempts: Number(row.attempts),
    nextAttemptAt: row.status === 'pending' ? row.next_attempt_at : null,
    lastAttemptAt: row.last_attempt_at,
    lastStatusCode: row.last_status_code === null ? null : Number(row.last_status_code),
    lastError: row.last_error,
    createdAt: row.created_at,
    deliveredAt: row.delivered_at,
  };
}
