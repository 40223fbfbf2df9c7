import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type AuthUser } from '../auth/auth.decorators.js';
import { UserIdPipe } from '../auth/user-id.pipe.js';
import { ApiProblems, BODY_PROBLEMS } from '../common/api-problems.js';
import { UpdateQuotaDto } from './dto/update-quota.dto.js';
import { QuotaService } from './quota.service.js';
import type { QuotaSummary, UserQuotaList, UserQuotaView } from './quota.view.js';

@ApiTags('Quota')
@Controller('api/v1/quota')
export class QuotaController {
  constructor(private readonly quota: QuotaService) {}

  /**
   * Get own quota
   *
   * @remarks The caller's tier, limits and current usage; the daily count resets at 00:00 UTC.
   */
  @Get()
  own(@CurrentUser() user: AuthUser): Promise<QuotaSummary> {
    return this.quota.summary(user.id);
  }
}

@ApiTags('Admin')
@Roles('admin')
@Controller('api/v1/admin/users')
export class AdminUsersController {
  constructor(private readonly quota: QuotaService) {}

  /**
   * List users
   *
   * @remarks Admins only: every user with role, tier, overrides and usage.
   */
  @Get()
  async list(): Promise<UserQuotaList> {
    return { items: await this.quota.listUsers() };
  }

  /**
   * Set a user's quota
   *
   * @remarks Admins only: sets a user's tier or overrides its figures; `null` clears an override. The user is created when unknown.
   */
  @Put(':id/quota')
  @ApiProblems(...BODY_PROBLEMS)
  change(@Param('id', UserIdPipe) userId: string, @Body() body: UpdateQuotaDto): Promise<UserQuotaView> {
    return this.quota.change(userId, body);
  }
}
