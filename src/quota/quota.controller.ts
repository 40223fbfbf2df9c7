import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import { CurrentUser, Roles, type AuthUser } from '../auth/auth.decorators.js';
import { UserIdPipe } from '../auth/user-id.pipe.js';
import { UpdateQuotaDto } from './dto/update-quota.dto.js';
import { QuotaService, type QuotaSummary, type UserQuotaView } from './quota.service.js';

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
  async list(): Promise<{ items: UserQuotaView[] }> {
    return { items: await this.quota.listUsers() };
  }

  @Put(':id/quota')
  change(@Param('id', UserIdPipe) userId: string, @Body() body: UpdateQuotaDto): Promise<UserQuotaView> {
    return this.quota.change(userId, body);
  }
}
