import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { SessionController } from './session.controller.js';

/** The dashboard's server side: its sign-in routes. Its static files are served by `serveDashboard`. */
@Module({
  imports: [AuthModule],
  controllers: [SessionController],
})
export class DashboardModule {}
