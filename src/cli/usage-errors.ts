import { Injectable } from '@nestjs/common';
import type { Command, CommanderError } from 'commander';
import { InjectCommander } from 'nest-commander';

/**
 * Commander exits with status 1 on a usage error in a subcommand; our
 * contract says 2. This hooks every command of the tree (nest-commander
 * only hooks the root) and names the program `autocode` in help and errors.
 */
@Injectable()
export class UsageErrors {
  constructor(@InjectCommander() private readonly program: Command) {}

  install(onError: (error: CommanderError) => void): void {
    this.program.name('autocode');
    const visit = (command: Command): void => {
      command.exitOverride(onError);
      command.commands.forEach(visit);
    };
    visit(this.program);
  }
}
