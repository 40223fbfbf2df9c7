import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import type { HealthCheckStatus } from '@nestjs/terminus';
import { SandboxView } from '../agents/agent.view.js';
import { NodeView } from '../daemon/node.view.js';
import type { Role } from '../config/configuration.js';

/** One readiness probe (Terminus): its state, with what the probe found or why it failed. */
export class HealthIndicatorState {
  status: 'up' | 'down';
  [detail: string]: unknown;
}

const INDICATOR_STATE = { $ref: getSchemaPath(HealthIndicatorState) };

/** `GET /health/ready` (Terminus): the probes, by name. */
export class ReadinessReport {
  status: HealthCheckStatus;

  @ApiPropertyOptional({ type: 'object', additionalProperties: INDICATOR_STATE, description: 'The probes that are up' })
  info?: Record<string, HealthIndicatorState>;

  @ApiPropertyOptional({ type: 'object', additionalProperties: INDICATOR_STATE, description: 'The probes that are down' })
  error?: Record<string, HealthIndicatorState>;

  @ApiProperty({ type: 'object', additionalProperties: INDICATOR_STATE, description: 'Every probe' })
  details: Record<string, HealthIndicatorState>;
}

/** One component of the detailed report. */
export class HealthComponent {
  status: 'up' | 'down';
  /** What the probe found, or why it failed. */
  detail: Record<string, unknown>;
}

/** `GET /health/detailed`. */
export class HealthReport {
  /** `degraded` when only the queue, recovery, draining or Redis is down. */
  status: 'healthy' | 'degraded' | 'unhealthy';
  version: string;
  uptimeSeconds: number;
  role: Role;
  node: string;
  headlessMode: boolean;
  activeRuns: number;
  queuedRuns: number;
  /** How this node isolates agents; `warning` says when it does not. */
  sandbox: SandboxView;
  /** The server processes sharing the database, heard from within the last 15 s (this one included). */
  nodes: NodeView[];

  @ApiProperty({ description: 'Each component, by name', type: 'object', additionalProperties: { $ref: getSchemaPath(HealthComponent) } })
  components: Record<string, HealthComponent>;
}

export class LiveStatus {
  status: 'ok';
}
