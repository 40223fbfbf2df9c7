import { DynamicModule, Module } from '@nestjs/common';
import { AdminUsersController, QuotaController } from './quota.controller.js';
import { QuotaService } from './quota.service.js';

@Module({})
export class QuotaModule {
  static forRoot(options: { http: boolean }): DynamicModule {
    return {
      module: QuotaModule,
      global: true,
      controllers: options.http ? [QuotaController, AdminUsersController] : [],
      providers: [QuotaService],
      exports: [QuotaService],
    };
  }
}
