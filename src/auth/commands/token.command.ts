import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { CliError } from '../../cli/output.js';
import { parseTtl, TokenService } from '../token.service.js';

interface TokenCreateOptions {
  user?: string;
  admin?: boolean;
  ttl: string;
}

@SubCommand({ name: 'create', description: 'print a signed bearer token for a user' })
export class TokenCreateCommand extends CommandRunner {
  constructor(private readonly tokens: TokenService) {
    super();
  }

  async run(_args: string[], options: TokenCreateOptions): Promise<void> {
    if (!options.user) throw new CliError('--user ID is required', 2);
    let ttlSeconds: number;
    try {
      ttlSeconds = parseTtl(options.ttl);
    } catch (error) {
      throw new CliError(`--ttl: ${(error as Error).message}`, 2);
    }
    process.stdout.write(this.tokens.create(options.user, { admin: options.admin === true, ttlSeconds }) + '\n');
  }

  @Option({ flags: '--user <id>', description: 'the user id (the token subject)', required: true })
  parseUser(value: string): string {
    return value;
  }

  @Option({ flags: '--admin', description: 'give the token the admin role' })
  parseAdmin(): boolean {
    return true;
  }

  @Option({ flags: '--ttl <lifetime>', description: 'lifetime: 90s, 15m, 12h, 30d, 4w', defaultValue: '30d' })
  parseTtl(value: string): string {
    return value;
  }
}

@Command({ name: 'token', description: 'bearer tokens', subCommands: [TokenCreateCommand] })
export class TokenCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
