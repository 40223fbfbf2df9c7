import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Histogram } from 'prom-client';
import { METRICS } from './metric-names.js';

export type RejectionReason = 'daily_limit' | 'budget_exhausted' | 'queue_full' | 'concurrency_limit';

/**
 * The run and quota metrics, each driven from the one code path that owns
 * the event it counts (submit, finish, start, refusal).
 */
@Injectable()
export class RunMetrics {
  constructor(
    @InjectMetric(METRICS.runsSubmitted) private readonly submitted: Counter<'agent'>,
    @InjectMetric(METRICS.runsFinished) private readonly finished: Counter<'agent' | 'status'>,
    @InjectMetric(METRICS.runDuration) private readonly duration: Histogram<'agent'>,
    @InjectMetric(METRICS.queueWait) private readonly queueWait: Histogram<string>,
    @InjectMetric(METRICS.quotaRejections) private readonly rejections: Counter<'reason'>,
  ) {}

  runSubmitted(agent: string): void {
    this.submitted.inc({ agent });
  }

  runStarted(createdAt: string, startedAt: string): void {
    this.queueWait.observe(Math.max(0, Date.parse(startedAt) - Date.parse(createdAt)) / 1000);
  }

  /** A run reached its final status; `startedAt` is null for one that never ran (cancelled while queued). */
  runFinished(agent: string, status: string, startedAt: string | null, finishedAt: string): void {
    this.finished.inc({ agent, status });
    if (startedAt) this.duration.observe({ agent }, Math.max(0, Date.parse(finishedAt) - Date.parse(startedAt)) / 1000);
  }

  quotaRejected(reason: RejectionReason): void {
    this.rejections.inc({ reason });
  }
}
