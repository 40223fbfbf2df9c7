import { Controller, Get, HttpStatus, Req, Res, ServiceUnavailableException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ApiBearerAuth, ApiExtraModels, ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DispatcherService } from '../dispatch/dispatcher.service.js';
import { Public, Unthrottled } from '../auth/auth.decorators.js';
import { RequestAuthenticator } from '../auth/request-authenticator.js';
import { ApiProblems } from '../common/api-problems.js';
import { ProblemError } from '../common/problem.js';
import type { AppConfig } from '../config/configuration.js';
import { VERSION } from '../metrics/version.js';
import { SandboxService } from '../sandbox/sandbox.service.js';
import { HealthIndicators } from './health.indicators.js';
import { HealthComponent, HealthIndicatorState, HealthReport, ReadinessReport, type LiveStatus } from './health.view.js';

type ComponentState = 'up' | 'down';

/** Liveness, readiness (Terminus) and a detailed report for operators. */
@ApiTags('Health')
@Public()
@Unthrottled()
@ApiExtraModels(HealthIndicatorState, HealthComponent)
@Controller('health')
export class HealthController {
  private readonly config: Pick<AppConfig, 'role' | 'node' | 'headlessMode' | 'health'>;

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicators,
    private readonly dispatcher: DispatcherService,
    private readonly authenticator: RequestAuthenticator,
    private readonly sandbox: SandboxService,
    config: ConfigService<AppConfig, true>,
  ) {
    this.config = {
      role: config.get('role', { infer: true }),
      node: config.get('node', { infer: true }),
      headlessMode: config.get('headlessMode', { infer: true }),
      health: config.get('health', { infer: true }),
    };
  }

  /**
   * Liveness
   *
   * @remarks The process can serve: no dependency is checked. Public.
   */
  @Get('live')
  live(): LiveStatus {
    return { status: 'ok' };
  }

  /**
   * Readiness
   *
   * @remarks The database, the queue and the workspace disk answer, recovery is done and the server is not draining (and, on a `ROLE=worker` node with `REDIS_URL`, Redis answers); 503 naming the failing check otherwise (Terminus shape). Public.
   */
  @Get('ready')
  @ApiOkResponse({ type: ReadinessReport, description: 'Every probe is up' })
  @ApiServiceUnavailableResponse({ type: ReadinessReport, description: 'A probe is down, the server is still ending what an unclean stop left running, or it is shutting down' })
  async ready(@Res() reply: FastifyReply): Promise<void> {
    const { status, result } = await this.readiness();
    await reply.status(status).send(result);
  }

  /**
   * Detailed health report
   *
   * @remarks Version, uptime, role, node, each component's state and the run counts. Needs an admin token unless the server sets `HEALTH_DETAILED_PUBLIC=true`; 503 when unhealthy.
   */
  @Get('detailed')
  // Public for the guard, which lets it through; the handler asks for an admin token (or an admin's dashboard session) itself.
  @ApiBearerAuth('bearer')
  @ApiOkResponse({ type: HealthReport, description: '`healthy` or `degraded`' })
  @ApiServiceUnavailableResponse({ type: HealthReport, description: '`unhealthy`' })
  @ApiProblems('unauthorized', 'forbidden')
  async detailed(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    if (!this.config.health.detailedPublic) await this.requireAdmin(request);
    const { result } = await this.readiness();
    const components: Record<string, { status: ComponentState; detail: Record<string, unknown> }> = Object.fromEntries(
      Object.entries(result.details).map(([name, { status, ...detail }]) => [name, { status: status as ComponentState, detail }]),
    );
    // A worker's readiness has already asked Redis; other nodes ask it here.
    const redis = components.redis ?? (await this.indicators.redis());
    if (redis) components.redis = redis;
    const down = Object.entries(components).filter(([, component]) => component.status !== 'up').map(([name]) => name);
    // Draining, or recovering from an unclean stop, is orderly, not a fault.
    // Without Redis the nodes still see each other's work, by polling the database.
    const orderly = new Set(['draining', 'recovery', 'queue', 'redis']);
    const overall = down.length === 0 ? 'healthy' : down.every((name) => orderly.has(name)) ? 'degraded' : 'unhealthy';
    await reply.status(overall === 'unhealthy' ? HttpStatus.SERVICE_UNAVAILABLE : HttpStatus.OK).send({
      status: overall,
      version: VERSION,
      uptimeSeconds: Math.round(process.uptime()),
      role: this.config.role,
      node: this.config.node,
      headlessMode: this.config.headlessMode,
      activeRuns: this.dispatcher.activeCount,
      queuedRuns: this.dispatcher.queuedCount,
      sandbox: this.sandbox.view(),
      nodes: await this.indicators.nodes(),
      components,
    } satisfies HealthReport);
  }

  private async readiness(): Promise<{ status: number; result: HealthCheckResult }> {
    try {
      const result = await this.health.check([
        () => this.indicators.databaseAnswers(),
        () => this.indicators.queue(),
        () => this.indicators.disk(),
        () => this.indicators.recovery(),
        () => this.indicators.draining(),
        // A worker without Redis gets no runs; an API node still takes submits, which wait queued.
        ...(this.config.role === 'worker' ? [() => this.indicators.redisForWorker()] : []),
      ]);
      return { status: HttpStatus.OK, result };
    } catch (error) {
      if (error instanceof ServiceUnavailableException) {
        return { status: HttpStatus.SERVICE_UNAVAILABLE, result: error.getResponse() as HealthCheckResult };
      }
      throw error;
    }
  }

  /** An admin's bearer token, or the dashboard session of an admin. */
  private async requireAdmin(request: FastifyRequest): Promise<void> {
    const user = await this.authenticator.authenticate(request);
    if (user.role !== 'admin') throw new ProblemError('forbidden', 'the detailed health report needs an admin token');
  }
}
