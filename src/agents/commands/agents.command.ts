import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { printJson, printTable } from '../../common/cli-output.js';
import { AgentProfilesService } from '../agent-profiles.service.js';

@SubCommand({ name: 'list', description: 'agent profiles this server offers' })
export class AgentsListCommand extends CommandRunner {
  constructor(private readonly profiles: AgentProfilesService) {
    super();
  }

  async run(_args: string[], options: { json?: boolean }): Promise<void> {
    const items = this.profiles.list().map((p) => ({
      name: p.name,
      executor: p.executor,
      default: p.name === this.profiles.defaultAgent,
      description: p.description,
      command: p.executor === 'command' ? p.command.join(' ') : `Claude Agent SDK${p.model ? ` (${p.model})` : ''}`,
    }));
    if (options.json) return printJson({ items });
    printTable(
      items.map((item) => ({ ...item, name: item.default ? `${item.name} *` : item.name, default: '' })),
      ['name', 'executor', 'description', 'command'],
    );
  }

  @Option({ flags: '--json', description: 'print JSON' })
  parseJson(): boolean {
    return true;
  }
}

@Command({ name: 'agents', description: 'agent profiles', subCommands: [AgentsListCommand] })
export class AgentsCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
