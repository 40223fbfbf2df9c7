import { Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { FastifyInstance } from 'fastify';
import type { Counter, Histogram } from 'prom-client';
import { METRICS } from './metric-names.js';

/**
 * Counts every HTTP request by method, route template (never the raw URL:
 * `/api/v1/runs/:id`, or `unmatched` for no route) and status, from a Fastify
 * hook, so requests refused before a handler (401, 404, 429) count too.
 */
@Injectable()
export class HttpMetrics implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @InjectMetric(METRICS.httpRequests) private readonly requests: Counter<'method' | 'route' | 'status'>,
    @InjectMetric(METRICS.httpDuration) private readonly duration: Histogram<'method' | 'route'>,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify) return;
    fastify.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const method = request.method;
      this.requests.inc({ method, route, status: String(reply.statusCode) });
      this.duration.observe({ method, route }, reply.elapsedTime / 1000);
      done();
    });
  }
}
