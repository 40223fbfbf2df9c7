import type { UserRole } from '../auth/user.entity.js';

/** The signed-in browser's session. */
export class SessionView {
  /** The user the session acts as */
  userId: string;

  role: UserRole;

  /** When the session ends: when the token it was opened with expires */
  expiresAt: string;

  /** Send it back in `X-CSRF-Token` on every request other than GET, HEAD and OPTIONS that the session cookie signs in */
  csrfToken: string;
}
