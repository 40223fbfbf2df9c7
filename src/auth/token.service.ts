import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { JwtService } from '@nestjs/jwt';
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { hasForbiddenControl } from '../common/text-input.js';
import type { AppConfig } from '../config/configuration.js';
import type { AuthUser } from './auth.decorators.js';

export const MAX_USER_ID_LENGTH = 128;
/**
 * How far ahead of this server's clock a token's `iat` or `nbf` may be: the
 * issuer's clock may run a little fast, but a token dated further ahead was
 * made to outlive its apparent lifetime or is not meant to be used yet.
 */
export const CLOCK_SKEW_SECONDS = 60;
/** Verified tokens remembered at most (oldest forgotten first). */
const VERIFIED_CACHE_SIZE = 10_000;

type Algorithm = 'HS256' | 'RS256' | 'ES256';

interface Claims {
  sub?: unknown;
  exp?: unknown;
  iat?: unknown;
  nbf?: unknown;
  role?: unknown;
}

export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | string[] | undefined): string | null {
  return typeof header === 'string' ? (header.match(/^Bearer\s+(\S+)\s*$/i)?.[1] ?? null) : null;
}

/** Parses a lifetime such as `30d`, `12h`, `15m`, `90s` or a bare number of seconds. */
export function parseTtl(value: string): number {
  const match = value.trim().match(/^(\d+)([smhdw]?)$/);
  if (!match) {
    throw new Error(`"${value}" is not a lifetime: use a number with s, m, h, d or w (e.g. 30d)`);
  }
  const seconds = Number(match[1]) * TTL_UNITS[match[2] || 's']!;
  if (seconds <= 0 || seconds > 10 * 365 * 86400) {
    throw new Error(`"${value}" must be between 1 second and 10 years`);
  }
  return seconds;
}

/**
 * Issues and verifies bearer tokens. The algorithm is pinned by the key the
 * server holds (HS256 for a secret; RS256 or ES256 for a public key), so a
 * token that names another algorithm, or none, never verifies. `exp` is required.
 */
@Injectable()
export class TokenService {
  private readonly algorithm: Algorithm;
  private readonly verifyKey: string;
  /** The key as a KeyObject, made once: given a string, jsonwebtoken parses it again on every verify. */
  private readonly verifyKeyObject: KeyObject;
  private readonly auth: AppConfig['auth'];
  /** Tokens already verified, until they expire: a client sends the same token many times. */
  private readonly verified = new Map<string, { user: AuthUser; expiresAt: number }>();

  constructor(
    private readonly jwt: JwtService,
    config: ConfigService<AppConfig, true>,
  ) {
    this.auth = config.get('auth', { infer: true });
    if (this.auth.secret) {
      this.algorithm = 'HS256';
      this.verifyKey = this.auth.secret;
      this.verifyKeyObject = createSecretKey(Buffer.from(this.auth.secret));
    } else {
      const key = createPublicKey(this.auth.publicKey!);
      this.algorithm = key.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256';
      this.verifyKey = this.auth.publicKey!;
      this.verifyKeyObject = key;
    }
  }

  async verify(token: string): Promise<AuthUser> {
    return (await this.verifyWithExpiry(token)).user;
  }

  /** The token's user and when the token expires (a dashboard session ends then too). */
  async verifyWithExpiry(token: string): Promise<{ user: AuthUser; expiresAt: Date }> {
    const known = this.verified.get(token);
    if (known && known.expiresAt > Date.now()) return { user: known.user, expiresAt: new Date(known.expiresAt) };
    return this.verifyUncached(token);
  }

  private async verifyUncached(token: string): Promise<{ user: AuthUser; expiresAt: Date }> {
    // @nestjs/jwt types the key as string | Buffer; jsonwebtoken takes a KeyObject as it is.
    const key = this.verifyKeyObject as unknown as Buffer;
    let claims: Claims;
    try {
      claims = await this.jwt.verifyAsync<Claims & object>(token, {
        secret: this.algorithm === 'HS256' ? key : undefined,
        publicKey: this.algorithm === 'HS256' ? undefined : key,
        algorithms: [this.algorithm],
        // `nbf` is checked below with the same skew as `iat` (jsonwebtoken's tolerance would stretch `exp` too).
        ignoreNotBefore: true,
        ...(this.auth.issuer ? { issuer: this.auth.issuer } : {}),
        ...(this.auth.audience ? { audience: this.auth.audience } : {}),
      });
    } catch (error) {
      throw new InvalidTokenError((error as Error).message);
    }
    if (typeof claims.exp !== 'number') {
      throw new InvalidTokenError('token has no exp claim');
    }
    const latestStart = Date.now() / 1000 + CLOCK_SKEW_SECONDS;
    for (const claim of ['iat', 'nbf'] as const) {
      const value = claims[claim];
      if (value === undefined) continue;
      if (typeof value !== 'number') throw new InvalidTokenError(`token ${claim} is not a number`);
      if (value > latestStart) throw new InvalidTokenError(`token ${claim} is more than ${CLOCK_SKEW_SECONDS} s in the future`);
    }
    if (typeof claims.sub !== 'string' || claims.sub.length === 0 || claims.sub.length > MAX_USER_ID_LENGTH) {
      throw new InvalidTokenError(`token sub must be a string of 1 to ${MAX_USER_ID_LENGTH} characters`);
    }
    // The user id is stored, logged and part of paths: a control character in it breaks all three.
    if (hasForbiddenControl(claims.sub, false)) {
      throw new InvalidTokenError('token sub must not contain control characters');
    }
    const user: AuthUser = { id: claims.sub, role: claims.role === 'admin' ? 'admin' : 'user' };
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { user, expiresAt: claims.exp * 1000 });
    return { user, expiresAt: new Date(claims.exp * 1000) };
  }

  /** Signs a token for `userId`; only possible when the server holds an HS256 secret. */
  create(userId: string, options: { admin: boolean; ttlSeconds: number }): string {
    if (userId.length === 0 || userId.length > MAX_USER_ID_LENGTH) {
      throw new Error(`a user id is 1 to ${MAX_USER_ID_LENGTH} characters`);
    }
    if (hasForbiddenControl(userId, false)) {
      throw new Error('a user id must not contain control characters');
    }
    if (this.algorithm !== 'HS256') {
      throw new Error('this server verifies tokens with JWT_PUBLIC_KEY; sign tokens with the matching private key instead');
    }
    return this.jwt.sign(options.admin ? { role: 'admin' } : {}, {
      secret: this.verifyKey,
      algorithm: 'HS256',
      subject: userId,
      expiresIn: options.ttlSeconds,
      ...(this.auth.issuer ? { issuer: this.auth.issuer } : {}),
      ...(this.auth.audience ? { audience: this.auth.audience } : {}),
    });
  }
}
