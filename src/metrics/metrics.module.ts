import { Global, Module, OnModuleInit } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeGaugeProvider, makeHistogramProvider, PrometheusModule } from '@willsoto/nestjs-prometheus';
import { collectDefaultMetrics, register, type Gauge } from 'prom-client';
import { HttpMetrics } from './http-metrics.js';
import { METRICS } from './metric-names.js';
import { MetricsController } from './metrics.controller.js';
import { RunMetrics } from './metrics.service.js';
import { VERSION } from './version.js';

/** Runs take seconds to hours. */
const RUN_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400];
const QUEUE_WAIT_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600];
const WEBHOOK_LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 3600, 86400];
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const providers = [
  makeCounterProvider({ name: METRICS.runsSubmitted, help: 'Runs accepted, by agent profile.', labelNames: ['agent'] }),
  makeCounterProvider({ name: METRICS.runsFinished, help: 'Runs that reached a final status, by agent profile and status.', labelNames: ['agent', 'status'] }),
  makeHistogramProvider({ name: METRICS.runDuration, help: 'Time from start to final status of runs that ran, by agent profile.', labelNames: ['agent'], buckets: RUN_DURATION_BUCKETS }),
  makeHistogramProvider({ name: METRICS.queueWait, help: 'Time runs waited queued before they started.', buckets: QUEUE_WAIT_BUCKETS }),
  makeGaugeProvider({ name: METRICS.runsActive, help: 'Agents running on this node now.' }),
  makeGaugeProvider({ name: METRICS.runsQueued, help: 'Runs waiting for this node now.' }),
  makeCounterProvider({ name: METRICS.quotaRejections, help: 'Submits refused by a quota, by reason.', labelNames: ['reason'] }),
  makeCounterProvider({
    name: METRICS.webhookDeliveries,
    help: 'Webhook delivery attempts, by outcome: delivered, retrying (failed, tried again later), failed (given up), refused (address not allowed).',
    labelNames: ['outcome'],
  }),
  makeHistogramProvider({ name: METRICS.webhookLatency, help: 'Time from an event to its successful delivery.', buckets: WEBHOOK_LATENCY_BUCKETS }),
  makeCounterProvider({ name: METRICS.httpRequests, help: 'HTTP requests, by method, route template and status.', labelNames: ['method', 'route', 'status'] }),
  makeHistogramProvider({ name: METRICS.httpDuration, help: 'HTTP request duration, by method and route template.', labelNames: ['method', 'route'], buckets: HTTP_BUCKETS }),
  makeGaugeProvider({ name: METRICS.uptime, help: 'Seconds since this process started.' }),
  makeGaugeProvider({ name: METRICS.buildInfo, help: 'Always 1; the version is in the label.', labelNames: ['version'] }),
];

/**
 * Prometheus metrics: the registry, `GET /metrics`, and the metric providers
 * the other modules inject. Node's default process metrics are collected
 * once per process (several applications in one test process share them).
 */
@Global()
@Module({
  imports: [PrometheusModule.register({ controller: MetricsController, defaultMetrics: { enabled: false } })],
  providers: [...providers, RunMetrics, HttpMetrics],
  exports: [...providers, RunMetrics],
})
export class MetricsModule implements OnModuleInit {
  constructor(@InjectMetric(METRICS.buildInfo) private readonly buildInfo: Gauge<'version'>) {}

  onModuleInit(): void {
    if (!register.getSingleMetric('process_cpu_user_seconds_total')) collectDefaultMetrics();
    this.buildInfo.set({ version: VERSION }, 1);
  }
}
