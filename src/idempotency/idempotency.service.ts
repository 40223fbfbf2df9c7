import { Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { Clock } from '../common/clock.js';
import { ProblemError } from '../common/problem.js';
import { DatabaseService } from '../database/database.service.js';

/** How long a key answers with its first result; after that it may be used afresh. */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000;

/** Expired keys are deleted at most this often, after a claim. */
const SWEEP_INTERVAL_MS = 60 * 60 * 1000;

/** Up to 255 printable ASCII characters, as the header's draft and Stripe allow. */
const KEY_FORMAT = /^[\x20-\x7e]{1,255}$/;

/** A request made with an `Idempotency-Key`: who sent it, the key, and what was asked. */
export interface IdempotentRequest {
  userId: string;
  key: string;
  /** The route and the canonical JSON of the body, hashed. */
  fingerprint: string;
}

/** The first answer to a key, served again to a retry. */
export interface StoredAnswer {
  status: number;
  body: unknown;
}

const CLAIM_SQL =
  'INSERT INTO idempotency_keys (user_id, idempotency_key, fingerprint, created_at) VALUES (?, ?, ?, ?) ' +
  'ON CONFLICT (user_id, idempotency_key) DO UPDATE SET fingerprint = excluded.fingerprint, created_at = excluded.created_at, status_code = NULL, response_body = NULL ' +
  'WHERE idempotency_keys.created_at < ? RETURNING user_id';
const FIND_SQL = 'SELECT fingerprint, status_code, response_body FROM idempotency_keys WHERE user_id = ? AND idempotency_key = ? AND created_at >= ?';
const FORGET_SQL = 'DELETE FROM idempotency_keys WHERE user_id = ? AND idempotency_key = ?';
const RECORD_SQL = 'UPDATE idempotency_keys SET status_code = ?, response_body = ? WHERE user_id = ? AND idempotency_key = ?';
const SWEEP_SQL = 'DELETE FROM idempotency_keys WHERE created_at < ?';

/**
 * Idempotent creation (Stripe's semantics): the key is claimed in the
 * transaction that creates the thing, and the answer is stored in that same
 * transaction. A concurrent duplicate waits on the claimed row (PostgreSQL) or
 * behind the single writer (SQLite) and then finds the answer, so one key
 * never creates two things, on one node or several; a creation that fails
 * leaves no key behind, and a retry may succeed.
 */
@Injectable()
export class IdempotencyService {
  private readonly logger = new Logger(IdempotencyService.name);
  private lastSweep = 0;

  constructor(
    private readonly database: DatabaseService,
    private readonly clock: Clock,
  ) {}

  /** The request to pass to `claim`, or null without a key; a malformed key is refused. */
  request(userId: string, key: string | undefined, route: string, body: unknown): IdempotentRequest | null {
    if (key === undefined) return null;
    if (!KEY_FORMAT.test(key)) {
      throw new ProblemError('validation_failed', 'Idempotency-Key must be 1 to 255 printable ASCII characters');
    }
    const fingerprint = createHash('sha256').update(route).update('\n').update(canonicalJson(body)).digest('hex');
    return { userId, key, fingerprint };
  }

  /**
   * In the creating transaction: null when this request now holds the key (create,
   * then `record`), or the answer stored for it by an earlier request with the
   * same body; a key used before for another request is refused.
   */
  async claim(manager: EntityManager, request: IdempotentRequest): Promise<StoredAnswer | null> {
    const now = this.clock.now();
    const cutoff = new Date(now.getTime() - IDEMPOTENCY_KEY_TTL_MS).toISOString();
    const claimed = await this.database.query(manager, CLAIM_SQL, [request.userId, request.key, request.fingerprint, now.toISOString(), cutoff]);
    if (now.getTime() - this.lastSweep > SWEEP_INTERVAL_MS) {
      this.lastSweep = now.getTime();
      setImmediate(() => void this.sweep(cutoff));
    }
    if (claimed.rows.length > 0) return null;
    return this.find(request, manager);
  }

  /**
   * The answer stored for this request's key within the last 24 hours, or null;
   * outside a transaction, a cheap check before work that is slow to undo.
   */
  async find(request: IdempotentRequest, manager: EntityManager = this.database.dataSource.manager): Promise<StoredAnswer | null> {
    const cutoff = new Date(this.clock.now().getTime() - IDEMPOTENCY_KEY_TTL_MS).toISOString();
    const { rows } = await this.database.query<{ fingerprint: string; status_code: number | null; response_body: string | null }>(manager, FIND_SQL, [
      request.userId,
      request.key,
      cutoff,
    ]);
    const stored = rows[0];
    if (!stored) return null;
    if (stored.fingerprint !== request.fingerprint) {
      throw new ProblemError('idempotency_key_reused', 'this Idempotency-Key was used for a different request in the last 24 hours; use a new key for a new request');
    }
    // The claim and the answer are committed together, so a committed key always has its answer.
    return { status: Number(stored.status_code), body: JSON.parse(stored.response_body ?? 'null') };
  }

  /** Drops a key whose creation was undone after its commit, so a retry creates afresh instead of replaying. */
  async forget(request: IdempotentRequest): Promise<void> {
    await this.database.transaction((manager) => this.database.query(manager, FORGET_SQL, [request.userId, request.key]));
  }

  /** In the same transaction as `claim`: the answer a retry with this key will get. */
  async record(manager: EntityManager, request: IdempotentRequest, answer: StoredAnswer): Promise<void> {
    await this.database.query(manager, RECORD_SQL, [answer.status, JSON.stringify(answer.body), request.userId, request.key]);
  }

  private async sweep(cutoff: string): Promise<void> {
    try {
      const { affected } = await this.database.transaction((manager) => this.database.query(manager, SWEEP_SQL, [cutoff]));
      if (affected > 0) this.logger.debug(`deleted ${affected} expired idempotency keys`);
    } catch (error) {
      // The next sweep tries again; an expired key is taken over by its next claim meanwhile.
      this.logger.warn(`could not delete expired idempotency keys: ${(error as Error).message}`);
    }
  }
}

/** JSON with object keys sorted at every level, so the same body always hashes the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item !== null && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item,
  );
}
