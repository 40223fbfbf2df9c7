import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from './app.factory.js';
import type { AppConfig } from './config/configuration.js';

/** Builds the application and listens; used by `src/main.ts` and `autocode serve`. */
export async function startServer(config: AppConfig): Promise<NestFastifyApplication> {
  const app = await createApp(config);
  await app.listen({ host: config.http.host, port: config.http.port });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  new Logger('Server').log(`listening on http://${config.http.host}:${port} (role ${config.role}, data ${config.dataDir})`);
  return app;
}

/** Loads `.env` from the working directory if there is one; variables already set win. */
export function loadEnvFile(): void {
  try {
    process.loadEnvFile('.env');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** One line on stderr and exit status 1: how a start that cannot succeed ends. */
export function exitWithStartupError(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`autocode: ${message.split('\n')[0]}\n`);
  process.exit(1);
}
