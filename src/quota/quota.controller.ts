import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import { CurrentUser, Roles, type AuthUser } from '../auth/auth.decorators.js';
import { UserIdPipe } from '../auth/user-id.pipe.js';
import { ApiProblems, BODY_PROBLEMS } from '../common/api-problems.js';
import { UpdateQuotaDto } from './dto/update-quota.dto.js';
import { QuotaService } from './quota.service.js';
import type { QuotaSummary, UserQuotaList, UserQuotaView } from './quota.view.js';

@Controller('api/v1/quota')
export class QuotaController {
  constructor(private readonly quota: QuotaService) {}

  @Get()
  own(@CurrentUser() user: AuthUser): Promise<QuotaSummary> {
    return this.quota.summary(user.id);
  }
}

@Roles('admin')
@Controller('api/v1/admin/users')
export class AdminUsersController {
  constructor(private readonly quota: QuotaService) {}

  @Get()
  async list(): Promise<UserQuotaList> {
    return { items: await this.quota.listUsers() };
  }

  @Put(':id/quota')
  @ApiProblems(...BODY_PROBLEMS)
  change(@Param('id', UserIdPipe) userId: string, @Body() body: UpdateQuotaDto): Promise<UserQuotaView> {
    return this.quota.change(userId, body);
  }
}
