import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module, type Provider } from '@nestjs/common';
import { WorkspaceModule } from '../workspace/workspace.module.js';
import { BullRunQueue, runsQueueProvider } from './bullmq/bull-run-queue.js';
import { RunsProcessor } from './bullmq/runs.processor.js';
import { DispatcherService } from './dispatcher.service.js';
import { RecoveryService } from './recovery.service.js';
import { RunInboxesService } from './run-inboxes.service.js';
import { RunRelayService } from './run-relay.service.js';
import { LocalRunQueue, RunQueue } from './run-queue.js';
import { RunSupervisor } from './run-supervisor.service.js';
import { RunWorkspaces } from './run-workspaces.js';

export interface DispatchModuleOptions {
  /** A server (it talks to the other nodes), not the CLI. */
  server: boolean;
  /** This process runs agents (ROLE all or worker). */
  runsAgents: boolean;
  /** `REDIS_URL`: the runs go through BullMQ, and events and cancels over Redis. */
  redisUrl: string | null;
}

/**
 * Hands queued runs to the nodes that run agents, runs them, and carries
 * events and cancels between nodes: an in-process queue on one node, BullMQ
 * on Redis across several.
 */
@Module({})
export class DispatchModule {
  static forRoot(options: DispatchModuleOptions): DynamicModule {
    const relay = options.server ? [RunRelayService] : [];
    const distributed = options.server && options.redisUrl !== null;
    const queue: Provider[] = distributed
      ? [runsQueueProvider(options.redisUrl!), BullRunQueue, { provide: RunQueue, useExisting: BullRunQueue }, ...(options.runsAgents ? [RunsProcessor] : [])]
      : [{ provide: RunQueue, useClass: LocalRunQueue }];
    // The workers' connection (its blocking commands wait on Redis, retrying without end while it is away).
    const bull = distributed
      ? [
          BullModule.forRoot({ connection: { url: options.redisUrl!, maxRetriesPerRequest: null }, prefix: 'autocode' }),
          // Brings in the explorer that makes this node's worker for RunsProcessor; the queue itself is runsQueueProvider's.
          BullModule.registerQueue(),
        ]
      : [];
    return {
      module: DispatchModule,
      global: true,
      imports: [WorkspaceModule, ...bull],
      providers: [...queue, RunWorkspaces, RunInboxesService, RunSupervisor, RecoveryService, DispatcherService, ...relay],
      exports: [RunQueue, DispatcherService, RunInboxesService, ...relay],
    };
  }
}
