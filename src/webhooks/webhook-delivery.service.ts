import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { Counter, Histogram } from 'prom-client';
import { Webhook } from 'standardwebhooks';
import { Clock } from '../common/clock.js';
import { DatabaseService } from '../database/database.service.js';
import { METRICS } from '../metrics/metric-names.js';
import { VERSION } from '../metrics/version.js';
import { AddressNotAllowedError, guardedLookup, isPrivateAddress } from './address-guard.js';
import { WebhooksService } from './webhooks.service.js';

/** An endpoint has this long to answer. */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** How much of an endpoint's answer is read (and kept in `lastError`). */
const RESPONSE_BYTES = 1024;
/** A claimed delivery is not taken by another loop for this long: longer than an attempt can take. */
const LEASE_MS = 60_000;
/** How often due deliveries are looked for when nothing wakes the loop (other nodes' events, retries). */
const POLL_MS = 1000;
const BATCH = 50;
/** An endpoint whose deliveries have failed for this long is disabled. */
const DISABLE_AFTER_MS = 24 * 60 * 60 * 1000;
/** Waits after the 1st, 2nd, … failed attempt (Standard Webhooks' suggested schedule), each ±20 %. */
const BACKOFF_MS = [5_000, 5 * 60_000, 30 * 60_000, 2 * 3600_000, 5 * 3600_000, 10 * 3600_000];

interface DueDelivery {
  id: string;
  endpoint_id: string;
  payload: string;
  attempts: number;
  expires_at: string;
  created_at: string;
  next_attempt_at: string;
  url: string;
  secret: string;
}

const DUE_SQL =
  'SELECT d.id, d.endpoint_id, d.payload, d.attempts, d.expires_at, d.created_at, d.next_attempt_at, e.url, e.secret ' +
  "FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND e.disabled_at IS NULL " +
  'ORDER BY d.next_attempt_at LIMIT ?';
// Taken only if no other loop (here or on another node) took it since it was read.
const CLAIM_SQL = "UPDATE webhook_deliveries SET next_attempt_at = ?, attempts = attempts + 1, last_attempt_at = ? WHERE id = ? AND status = 'pending' AND next_attempt_at = ?";

type Outcome = { ok: true; status: number } | { ok: false; status: number | null; error: string; refused: boolean };

/**
 * Sends the outbox: each due delivery is claimed with a lease, POSTed with Standard
 * Webhooks headers, then marked delivered or given its next attempt with exponential
 * backoff and jitter until its 24 hours are over. Redirects are not followed, answers
 * are read up to 1 KiB, and a name that resolves to a private address is refused at
 * connect time unless private networks are allowed. Runs in the server, not the CLI.
 */
@Injectable()
export class WebhookDeliveryService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(WebhookDeliveryService.name);
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private unsubscribe: (() => void) | null = null;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly webhooks: WebhooksService,
    private readonly database: DatabaseService,
    private readonly clock: Clock,
    @InjectMetric(METRICS.webhookDeliveries) private readonly deliveries: Counter<'outcome'>,
    @InjectMetric(METRICS.webhookLatency) private readonly latency: Histogram,
  ) {}

  onApplicationBootstrap(): void {
    this.unsubscribe = this.webhooks.onWake(() => this.kick());
    this.timer = setInterval(() => this.kick(), POLL_MS).unref();
    this.kick();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    // An attempt cut short here is retried when its lease ends, by this node after a restart or by another.
    await Promise.allSettled([this.running, ...this.inFlight]);
  }

  /** Looks for due deliveries now; one look at a time, and one more if asked while it ran. */
  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.sendDue()
      .catch((error: Error) => this.logger.warn(`webhook deliveries could not be read: ${error.message}`))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async sendDue(): Promise<void> {
    const now = this.clock.now();
    const manager = this.database.dataSource.manager;
    const { rows } = await this.database.query<DueDelivery>(manager, DUE_SQL, [now.toISOString(), BATCH]);
    for (const due of rows) {
      const lease = new Date(now.getTime() + LEASE_MS).toISOString();
      const claimed = await this.database.transaction((m) => this.database.query(m, CLAIM_SQL, [lease, now.toISOString(), due.id, due.next_attempt_at]));
      if (claimed.affected === 0) continue;
      const attempt = this.attempt({ ...due, attempts: Number(due.attempts) + 1 }).finally(() => this.inFlight.delete(attempt));
      this.inFlight.add(attempt);
    }
  }

  private async attempt(delivery: DueDelivery): Promise<void> {
    const outcome = await this.post(delivery);
    const now = this.clock.now();
    const at = now.toISOString();
    if (outcome.ok) {
      await this.database.transaction(async (manager) => {
        await this.database.query(
          manager,
          "UPDATE webhook_deliveries SET status = 'succeeded', next_attempt_at = NULL, delivered_at = ?, last_status_code = ?, last_error = NULL WHERE id = ?",
          [at, outcome.status, delivery.id],
        );
        await this.database.query(manager, 'UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ?', [delivery.endpoint_id]);
      });
      this.deliveries.inc({ outcome: 'delivered' });
      this.latency.observe(Math.max(0, Date.now() - Date.parse(delivery.created_at)) / 1000);
      return;
    }
    const wait = BACKOFF_MS[Math.min(delivery.attempts - 1, BACKOFF_MS.length - 1)]! * (0.8 + Math.random() * 0.4);
    const next = new Date(now.getTime() + wait);
    const givenUp = next.toISOString() > delivery.expires_at;
    await this.database.transaction(async (manager) => {
      await this.database.query(
        manager,
        'UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, last_status_code = ?, last_error = ? WHERE id = ?',
        [givenUp ? 'failed' : 'pending', givenUp ? null : next.toISOString(), outcome.status, outcome.error, delivery.id],
      );
      await this.database.query(manager, 'UPDATE webhook_endpoints SET failing_since = ? WHERE id = ? AND failing_since IS NULL', [at, delivery.endpoint_id]);
      const cutoff = new Date(now.getTime() - DISABLE_AFTER_MS).toISOString();
      const disabled = await this.database.query(
        manager,
        'UPDATE webhook_endpoints SET disabled_at = ?, disabled_reason = ? WHERE id = ? AND disabled_at IS NULL AND failing_since <= ?',
        [at, `every delivery failed for 24 hours; the last: ${outcome.error}`, delivery.endpoint_id, cutoff],
      );
      if (disabled.affected > 0) {
        await this.database.query(
          manager,
          "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, last_error = COALESCE(last_error, 'the endpoint was disabled') WHERE endpoint_id = ? AND status = 'pending'",
          [delivery.endpoint_id],
        );
        this.logger.warn({ endpointId: delivery.endpoint_id }, 'webhook endpoint disabled after 24 hours of failed deliveries');
      }
    });
    this.deliveries.inc({ outcome: outcome.refused ? 'refused' : givenUp ? 'failed' : 'retrying' });
  }

  /** One POST of the delivery's payload, signed; never throws. */
  private post(delivery: DueDelivery): Promise<Outcome> {
    const url = new URL(delivery.url);
    const allowPrivate = this.webhooks.allowsPrivateNetworks;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // A literal address is connected to without a lookup, so it is checked here.
    if (!allowPrivate && isIP(host) && isPrivateAddress(host)) {
      return Promise.resolve({ ok: false, status: null, error: new AddressNotAllowedError(host, host).message, refused: true });
    }
    const timestamp = this.clock.now();
    const body = Buffer.from(delivery.payload);
    const headers = {
      'content-type': 'application/json',
      'content-length': String(body.length),
      'user-agent': `autocode-webhooks/${VERSION}`,
      'webhook-id': delivery.id,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': new Webhook(delivery.secret).sign(delivery.id, timestamp, delivery.payload),
    };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    // A connection of its own each time (agent: false): every connection goes through the guarded lookup, and none is kept open.
    return new Promise<Outcome>((resolve) => {
      const req = send(url, { method: 'POST', headers, lookup: guardedLookup(allowPrivate), timeout: DELIVERY_TIMEOUT_MS, agent: false }, (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const done = (): void => {
          const status = response.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8').slice(0, RESPONSE_BYTES);
          if (status >= 200 && status < 300) resolve({ ok: true, status });
          else resolve({ ok: false, status, error: `HTTP ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}${text ? `: ${text}` : ''}`, refused: false });
        };
        response.on('data', (chunk: Buffer) => {
          if (size < RESPONSE_BYTES) chunks.push(chunk.subarray(0, RESPONSE_BYTES - size));
          size += chunk.length;
          // Enough has been read: the rest of a large answer is not waited for.
          if (size >= RESPONSE_BYTES) {
            response.destroy();
            done();
          }
        });
        response.on('end', done);
        response.on('error', () => done());
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${DELIVERY_TIMEOUT_MS / 1000} s`)));
      req.on('error', (error) => resolve({ ok: false, status: null, error: error.message, refused: error instanceof AddressNotAllowedError }));
      req.end(body);
    });
  }
}
