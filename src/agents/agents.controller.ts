import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { SandboxService } from '../sandbox/sandbox.service.js';
import { AgentProfilesService } from './agent-profiles.service.js';
import type { AgentList } from './agent.view.js';

@ApiTags('Agents')
@Controller('api/v1/agents')
export class AgentsController {
  constructor(
    private readonly profiles: AgentProfilesService,
    private readonly sandbox: SandboxService,
  ) {}

  /**
   * List the agent profiles
   *
   * @remarks The profiles a run may name in `agent`, which one is the default, and whether their agents run sandboxed.
   */
  @Get()
  list(): AgentList {
    const defaultAgent = this.profiles.defaultAgent;
    return {
      items: this.profiles.list().map((profile) => ({
        name: profile.name,
        executor: profile.executor,
        description: profile.description,
        default: profile.name === defaultAgent,
        sandboxed: this.sandbox.sandboxes(profile),
        network: profile.network,
      })),
      sandbox: this.sandbox.view(),
    };
  }
}
