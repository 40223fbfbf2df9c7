import { ConfigService } from '@nestjs/config';
import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { CliError } from '../../common/cli-output.js';
import type { AppConfig } from '../../config/configuration.js';
import { DatabaseService } from '../../database/database.service.js';
import { SessionsService } from '../sessions.service.js';
import { parseTtl, TokenService } from '../token.service.js';

interface TokenCreateOptions {
  user?: string;
  admin?: boolean;
  ttl: string;
  loginUrl?: boolean;
  baseUrl?: string;
}

@SubCommand({ name: 'create', description: 'print a signed bearer token for a user, or a one-time dashboard sign-in link' })
export class TokenCreateCommand extends CommandRunner {
  constructor(
    private readonly tokens: TokenService,
    private readonly sessions: SessionsService,
    private readonly database: DatabaseService,
    private readonly config: ConfigService<AppConfig, true>,
  ) {
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
    if (options.loginUrl) {
      process.stdout.write((await this.loginUrl(options.user, options.admin === true, ttlSeconds, options.baseUrl)) + '\n');
      return;
    }
    process.stdout.write(this.tokens.create(options.user, { admin: options.admin === true, ttlSeconds }) + '\n');
  }

  /**
   * A link that signs a browser in to the dashboard once, within 15 minutes; the session lasts
   * `ttlSeconds`. The code is in the fragment, which browsers send to no server and no log.
   */
  private async loginUrl(userId: string, admin: boolean, ttlSeconds: number, baseUrl: string | undefined): Promise<string> {
    // The same checks as a token's subject (length, no control characters), before anything is stored.
    this.tokens.create(userId, { admin, ttlSeconds });
    await this.database.runMigrations();
    const { code } = await this.sessions.createLoginLink({ id: userId, role: admin ? 'admin' : 'user' }, ttlSeconds);
    const { host, port } = this.config.get('http', { infer: true });
    const base = baseUrl ?? `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host}:${port}`;
    return `${base.replace(/\/+$/, '')}/login#code=${code}`;
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

  @Option({ flags: '--login-url', description: 'print a one-time link (valid 15 minutes) that signs a browser in to the dashboard for the lifetime, instead of a token' })
  parseLoginUrl(): boolean {
    return true;
  }

  @Option({ flags: '--base-url <url>', description: "the dashboard's address in the link (default: http://HOST:PORT of this configuration)" })
  parseBaseUrl(value: string): string {
    if (!/^https?:\/\/[^\s#?]+$/.test(value)) throw new CliError('--base-url must be an http:// or https:// URL without query or fragment', 2);
    return value;
  }
}

@Command({ name: 'token', description: 'bearer tokens', subCommands: [TokenCreateCommand] })
export class TokenCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
