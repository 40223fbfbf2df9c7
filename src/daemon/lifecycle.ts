import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DispatcherService } from '../dispatch/dispatcher.service.js';
import type { AppConfig } from '../config/configuration.js';

/** How long a forced exit waits for the endings of the killed agents to be written. */
const FORCED_EXIT_RECORD_MS = 2_000;

/**
 * SIGTERM and SIGINT start the shutdown sequence (readiness down at once,
 * agents ended and recorded, streams closed, database released) and the
 * process exits 0. A second signal during it, or the deadline passing, kills
 * the agents at once; the process exits 1 once their endings are recorded
 * (or after a short wait for them).
 */
export function handleShutdownSignals(app: NestFastifyApplication, config: AppConfig, onExit: () => void): void {
  const logger = new Logger('Shutdown');
  const dispatcher = app.get(DispatcherService);
  let stopping = false;
  let forced = false;

  const exit = (code: number): never => {
    onExit();
    process.exit(code);
  };

  const force = (why: string): void => {
    forced = true;
    logger.warn(`${why}: killing agents now`);
    dispatcher.forceStop();
    setTimeout(() => exit(1), FORCED_EXIT_RECORD_MS).unref();
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      force(`second ${signal} during shutdown`);
      return;
    }
    stopping = true;
    logger.log(`${signal}: shutting down (mode ${config.shutdown.mode}, deadline ${config.shutdown.timeoutSeconds} s)`);
    dispatcher.beginDrain();
    // A backstop above the dispatcher's own deadline, for anything else that hangs.
    setTimeout(() => force('shutdown deadline passed'), (config.shutdown.timeoutSeconds + 5) * 1000).unref();
    app.close().then(
      () => {
        logger.log(forced ? 'stopped after killing the agents' : 'stopped');
        exit(forced ? 1 : 0);
      },
      (error: Error) => {
        logger.error(`shutdown failed: ${error.message}`);
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
