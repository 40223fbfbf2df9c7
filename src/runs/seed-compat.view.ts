import type { SeedAgentType, SeedTaskStatus } from './dto/seed-compat.dto.js';
import type { RunResult } from './entities/run.entity.js';

/** Answer of the seed's `POST /api/agents/run`. */
export class SeedTaskStarted {
  /** The run id. */
  task_id: string;
  spec_id: string;
  agent_type: SeedAgentType;
  status: 'started';
  message: string;
}

/** A seed task: a run, in the seed's terms. */
export class SeedTask {
  task_id: string;
  status: SeedTaskStatus;
  result: RunResult | null;
  /** The run's error message. */
  error: string | null;
}

export class SeedTaskCancelled extends SeedTask {
  message: string;
}

export class SeedHealth {
  status: 'ok';
  endpoint: 'agents';
}
