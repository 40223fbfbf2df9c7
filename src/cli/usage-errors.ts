import { Injectable } from '@nestjs/common';
import type { Command, CommanderError, Option } from 'commander';
import { InjectCommander } from 'nest-commander';

/** commander's own handling of a mistyped subcommand (with a "Did you mean" suggestion), not in its types. */
interface CommandInternals {
  unknownCommand(): never;
  missingMandatoryOptionValue(option: Option): never;
}

/**
 * Commander exits with status 1 on a usage error in a subcommand; our contract says 2. This
 * hooks every command of the tree (nest-commander only hooks the root), names the program
 * `autocode` in help and errors, and makes two mistakes read as what they are:
 * - a mistyped subcommand (`token lst`) is an unknown command with a suggestion, where the
 *   group's own action would print its help and succeed;
 * - a mistyped flag (`--usr`) is an unknown option with a suggestion, where commander checks
 *   required options first and would report a missing `--user`.
 */
@Injectable()
export class UsageErrors {
  constructor(@InjectCommander() private readonly program: Command) {}

  install(onError: (error: CommanderError) => void): void {
    this.program.name('autocode');
    const visit = (command: Command): void => {
      command.exitOverride(onError);
      command.showSuggestionAfterError(true);
      const required = command.options.filter((option) => option.mandatory);
      for (const option of required) option.makeOptionMandatory(false);
      command.hook('preAction', (_hooked, actionCommand) => {
        if (actionCommand !== command) return;
        const internals = command as unknown as CommandInternals;
        if (command.commands.length > 0 && command.args.length > 0) internals.unknownCommand();
        const missing = required.find((option) => command.getOptionValue(option.attributeName()) === undefined);
        if (missing) internals.missingMandatoryOptionValue(missing);
      });
      command.commands.forEach(visit);
    };
    visit(this.program);
  }
}
