import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AgentProfilesService } from '../agents/agent-profiles.service.js';

/**
 * SIGHUP (`systemctl reload`) re-reads the agent profiles file without
 * touching any run. A file that no longer validates is refused and the
 * profiles in force stay.
 */
@Injectable()
export class ReloadService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReloadService.name);
  private readonly onSighup = (): void => void this.reload();

  constructor(private readonly profiles: AgentProfilesService) {}

  onApplicationBootstrap(): void {
    process.on('SIGHUP', this.onSighup);
  }

  onApplicationShutdown(): void {
    process.off('SIGHUP', this.onSighup);
  }

  async reload(): Promise<void> {
    try {
      await this.profiles.reload();
      this.logger.log(`reloaded agent profiles: ${this.profiles.list().map((p) => p.name).join(', ')}`);
    } catch (error) {
      this.logger.error(`reload refused, the previous profiles stay in force: ${(error as Error).message}`);
    }
  }
}
