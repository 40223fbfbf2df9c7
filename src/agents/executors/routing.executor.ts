import { Injectable } from '@nestjs/common';
import { ClaudeExecutor } from './claude.executor.js';
import { CommandExecutor } from './command.executor.js';
import { Executor, type Execution, type ExecutionRequest } from './executor.js';

/** Starts each run on the adapter its profile's `executor` names. */
@Injectable()
export class RoutingExecutor extends Executor {
  constructor(
    private readonly command: CommandExecutor,
    private readonly claude: ClaudeExecutor,
  ) {
    super();
  }

  start(request: ExecutionRequest): Promise<Execution> {
    const { profile } = request;
    switch (profile.executor) {
      case 'command':
        return this.command.start({ ...request, profile });
      case 'claude':
        return this.claude.start({ ...request, profile });
    }
  }
}
