import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import { InjectMetric, PrometheusController } from '@willsoto/nestjs-prometheus';
import type { FastifyReply } from 'fastify';
import type { Gauge } from 'prom-client';
import { DispatcherService } from '../dispatch/dispatcher.service.js';
import { Public, Unthrottled } from '../auth/auth.decorators.js';
import { METRICS } from './metric-names.js';

/** `GET /metrics`, public; the gauges of this moment are read from the dispatcher at each scrape. */
@ApiTags('Metrics')
@Public()
@Unthrottled()
@Controller()
export class MetricsController extends PrometheusController {
  constructor(
    private readonly dispatcher: DispatcherService,
    @InjectMetric(METRICS.runsActive) private readonly active: Gauge<string>,
    @InjectMetric(METRICS.runsQueued) private readonly queued: Gauge<string>,
    @InjectMetric(METRICS.uptime) private readonly uptime: Gauge<string>,
  ) {
    super();
  }

  /**
   * Prometheus metrics
   *
   * @remarks The metrics in the Prometheus text exposition format. Public.
   */
  @Get()
  @ApiProduces('text/plain')
  @ApiOkResponse({ type: String, description: 'The Prometheus text exposition format' })
  override async index(@Res({ passthrough: true }) response: FastifyReply): Promise<string> {
    this.active.set(this.dispatcher.activeCount);
    this.queued.set(this.dispatcher.queuedCount);
    this.uptime.set(Math.round(process.uptime()));
    return super.index(response) as Promise<string>;
  }
}
