import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Job } from 'bullmq';
import type { AppConfig } from '../../config/configuration.js';
import type { QueuedRun } from '../run-queue.js';
import { BullRunQueue, RUNS_QUEUE, throttledWarning } from './bull-run-queue.js';

/**
 * This node's BullMQ worker for the runs queue. It starts only once the
 * dispatcher consumes (after crash recovery), with `MAX_CONCURRENT_AGENTS`
 * jobs at once; each job stays active while its agent runs.
 */
@Processor(RUNS_QUEUE, { autorun: false })
export class RunsProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly warn = throttledWarning(new Logger(RunsProcessor.name));
  private readonly capacity: number;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly queue: BullRunQueue,
  ) {
    super();
    this.capacity = config.get('agents.maxConcurrent', { infer: true });
  }

  onApplicationBootstrap(): void {
    this.queue.attachWorker(this.worker, this.capacity);
  }

  /** Redis away: one warning every 10 s (BullMQ reconnects by itself); without a listener BullMQ would print it to stderr. */
  @OnWorkerEvent('error')
  onError(error: Error): void {
    this.warn(`the run queue's worker: ${error.message}`);
  }

  process(job: Job<QueuedRun>, token?: string): Promise<void> {
    return this.queue.process(job, token);
  }
}
