import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import type { AuthUser } from './auth.decorators.js';
import { User } from './user.entity.js';

/** How stale `lastSeenAt` may get before a request refreshes it. */
const SEEN_REFRESH_MS = 60_000;

/**
 * Users are created on first sight from a token's `sub`. The role follows the
 * latest token. Known users are remembered so that a request costs no write
 * unless something changed.
 */
@Injectable()
export class UsersService {
  private readonly known = new Map<string, { role: string; seenAt: number }>();

  constructor(@InjectRepository(User) private readonly users: Repository<User>) {}

  async ensure(user: AuthUser): Promise<void> {
    const now = Date.now();
    const cached = this.known.get(user.id);
    if (cached && cached.role === user.role && now - cached.seenAt < SEEN_REFRESH_MS) {
      return;
    }
    const iso = new Date(now).toISOString();
    await this.users
      .createQueryBuilder()
      .insert()
      .into(User)
      .values({ id: user.id, role: user.role, createdAt: iso, lastSeenAt: iso })
      .orUpdate(['role', 'last_seen_at'], ['id'])
      .execute();
    this.known.set(user.id, { role: user.role, seenAt: now });
  }
}
