import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AgentProfilesService } from '../agents/agent-profiles.service.js';
import type { LogDestination } from '../logging/log-destination.js';
import { LOG_DESTINATION } from '../logging/logging.module.js';
import { rotateLog } from './server-log.js';

const LOG_SIZE_CHECK_MS = 30_000;

/**
 * SIGHUP (`systemctl reload`) re-reads the agent profiles file without
 * touching any run (a file that no longer validates is refused and the
 * profiles in force stay) and reopens the log file after an outside rotation.
 * The log file is also rotated here when it outgrows its size limit.
 */
@Injectable()
export class ReloadService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReloadService.name);
  private readonly onSighup = (): void => void this.reload();

  private sizeCheck: NodeJS.Timeout | null = null;

  constructor(
    private readonly profiles: AgentProfilesService,
    @Inject(LOG_DESTINATION) private readonly log: LogDestination,
  ) {}

  onApplicationBootstrap(): void {
    process.on('SIGHUP', this.onSighup);
    const file = this.log.file;
    if (file) {
      this.sizeCheck = setInterval(() => {
        if (rotateLog(file)) this.log.reopen();
      }, LOG_SIZE_CHECK_MS);
      this.sizeCheck.unref();
    }
  }

  onApplicationShutdown(): void {
    process.off('SIGHUP', this.onSighup);
    if (this.sizeCheck) clearInterval(this.sizeCheck);
    this.log.flush();
  }

  async reload(): Promise<void> {
    this.log.reopen();
    try {
      await this.profiles.reload();
      this.logger.log(`reloaded agent profiles: ${this.profiles.list().map((p) => p.name).join(', ')}`);
    } catch (error) {
      this.logger.error(`reload refused, the previous profiles stay in force: ${(error as Error).message}`);
    }
  }
}
