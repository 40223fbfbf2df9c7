import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { LessThan, type Repository } from 'typeorm';
import { Clock } from '../common/clock.js';
import type { AuthUser } from './auth.decorators.js';
import { LoginLink, Session } from './session.entity.js';

/** How long a printed sign-in link may wait to be opened. */
export const LOGIN_LINK_TTL_SECONDS = 15 * 60;

/** A session as the guard and the session routes see it: who, until when, and the CSRF token to expect. */
export interface SessionInfo {
  user: AuthUser;
  expiresAt: Date;
  csrfToken: string;
}

const secret = (): string => randomBytes(32).toString('base64url');
const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');

/**
 * Browser sessions of the dashboard and the one-time links that open them. Only hashes of the
 * session ids and link codes are stored; the secrets themselves live in the browser's cookie and
 * in the printed link.
 */
@Injectable()
export class SessionsService {
  constructor(
    @InjectRepository(Session) private readonly sessions: Repository<Session>,
    @InjectRepository(LoginLink) private readonly links: Repository<LoginLink>,
    private readonly clock: Clock,
  ) {}

  /** Opens a session for `user` until `expiresAt`; returns the id for the cookie. */
  async open(user: AuthUser, expiresAt: Date): Promise<{ id: string; session: SessionInfo }> {
    const now = this.clock.now();
    await this.sessions.delete({ expiresAt: LessThan(now.toISOString()) });
    const id = secret();
    const csrfToken = secret();
    await this.sessions.insert({
      idHash: sha256(id),
      userId: user.id,
      role: user.role,
      csrfToken,
      createdAt: now.toISOString(),
      expiresAt: expiresAt.toISOString(),
    });
    return { id, session: { user, expiresAt, csrfToken } };
  }

  /** The live session with this cookie id, or null (unknown, ended or expired). */
  async find(id: string): Promise<SessionInfo | null> {
    const row = await this.sessions.findOneBy({ idHash: sha256(id) });
    if (!row || Date.parse(row.expiresAt) <= this.clock.now().getTime()) return null;
    return { user: { id: row.userId, role: row.role }, expiresAt: new Date(row.expiresAt), csrfToken: row.csrfToken };
  }

  /** Ends the session with this cookie id (sign-out); nothing when there is none. */
  async end(id: string): Promise<void> {
    await this.sessions.delete({ idHash: sha256(id) });
  }

  /** Whether `given` is the session's CSRF token, compared in constant time. */
  static csrfMatches(session: SessionInfo, given: string | undefined): boolean {
    if (given === undefined) return false;
    const expected = Buffer.from(session.csrfToken);
    const actual = Buffer.from(given);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }

  /** Makes a one-time sign-in code for `user`; the session it opens lasts `sessionTtlSeconds`. */
  async createLoginLink(user: AuthUser, sessionTtlSeconds: number): Promise<{ code: string; expiresAt: Date }> {
    const now = this.clock.now();
    await this.links.delete({ expiresAt: LessThan(now.toISOString()) });
    const code = secret();
    const expiresAt = new Date(now.getTime() + Math.min(LOGIN_LINK_TTL_SECONDS, sessionTtlSeconds) * 1000);
    await this.links.insert({
      codeHash: sha256(code),
      userId: user.id,
      role: user.role,
      sessionExpiresAt: new Date(now.getTime() + sessionTtlSeconds * 1000).toISOString(),
      createdAt: now.toISOString(),
      expiresAt: expiresAt.toISOString(),
    });
    return { code, expiresAt };
  }

  /**
   * Redeems a sign-in code: the link is deleted as it is used, so of two browsers opening it at
   * once only the one whose delete removed the row gets a session. Null when the code is unknown,
   * used or expired.
   */
  async redeemLoginLink(code: string): Promise<{ id: string; session: SessionInfo } | null> {
    const codeHash = sha256(code);
    const link = await this.links.findOneBy({ codeHash });
    if (!link) return null;
    const { affected } = await this.links.delete({ codeHash });
    if (affected !== 1 || Date.parse(link.expiresAt) <= this.clock.now().getTime()) return null;
    return this.open({ id: link.userId, role: link.role }, new Date(link.sessionExpiresAt));
  }
}
