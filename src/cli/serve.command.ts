import { Inject } from '@nestjs/common';
import { Command, CommandRunner, Option } from 'nest-commander';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/configuration.js';
import { parsePositiveInt } from '../common/cli-output.js';

interface ServeOptions {
  host?: string;
  port?: number;
}

/** `autocode serve`: the server in the foreground, as systemd and Kubernetes run it. */
@Command({ name: 'serve', description: 'run the server in the foreground' })
export class ServeCommand extends CommandRunner {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    super();
  }

  async run(_args: string[], options: ServeOptions): Promise<void> {
    // Loaded here, not at the top: the other commands need none of the HTTP server.
    const { startServer } = await import('../server.js');
    const app = await startServer({
      ...this.config,
      http: { host: options.host ?? this.config.http.host, port: options.port ?? this.config.http.port },
    });
    await new Promise<void>((resolve) => app.getHttpServer().once('close', () => resolve()));
  }

  @Option({ flags: '--host <host>', description: 'address to listen on (default HOST or 127.0.0.1)' })
  parseHost(value: string): string {
    return value;
  }

  @Option({ flags: '--port <port>', description: 'port to listen on (default PORT or 8000)' })
  parsePort(value: string): number {
    return parsePositiveInt(value, '--port');
  }
}
