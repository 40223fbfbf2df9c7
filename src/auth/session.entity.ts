import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { UserRole } from './user.entity.js';

/**
 * A browser's signed-in session: the cookie carries a random id, the table only its SHA-256, so
 * a copy of the database signs nobody in. It ends when the token it was opened with would have
 * expired, or at sign-out.
 */
@Entity({ name: 'sessions' })
export class Session {
  @PrimaryColumn({ name: 'id_hash', type: 'varchar', length: 64 })
  idHash: string;

  @Column({ name: 'user_id', type: 'varchar', length: 128 })
  userId: string;

  @Column({ type: 'varchar', length: 16 })
  role: UserRole;

  /** The value the dashboard echoes in `X-CSRF-Token` on every unsafe request. */
  @Column({ name: 'csrf_token', type: 'varchar', length: 64 })
  csrfToken: string;

  @Column({ name: 'created_at', type: 'varchar', length: 32 })
  createdAt: string;

  @Column({ name: 'expires_at', type: 'varchar', length: 32 })
  expiresAt: string;
}

/** A one-time sign-in link (`autocode token create --login-url`): redeemed once for a session, or expired. */
@Entity({ name: 'login_links' })
export class LoginLink {
  @PrimaryColumn({ name: 'code_hash', type: 'varchar', length: 64 })
  codeHash: string;

  @Column({ name: 'user_id', type: 'varchar', length: 128 })
  userId: string;

  @Column({ type: 'varchar', length: 16 })
  role: UserRole;

  /** When the session the link opens ends (the lifetime a token made by the same command would have). */
  @Column({ name: 'session_expires_at', type: 'varchar', length: 32 })
  sessionExpiresAt: string;

  @Column({ name: 'created_at', type: 'varchar', length: 32 })
  createdAt: string;

  /** Past this the link no longer signs anyone in. */
  @Column({ name: 'expires_at', type: 'varchar', length: 32 })
  expiresAt: string;
}
