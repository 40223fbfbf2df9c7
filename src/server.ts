import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from './app.factory.js';
import { servesDashboard } from './app.module.js';
import type { AppConfig } from './config/configuration.js';
import { handleShutdownSignals } from './daemon/lifecycle.js';
import { acquirePidFile } from './daemon/pid-file.js';
import { writeServerState } from './daemon/server-state.js';

export { exitWithStartupError, loadEnvFile } from './startup.js';

/**
 * The server process: takes the PID file (one server per DATA_DIR), builds the
 * application, listens, and handles the shutdown signals. Used by
 * `src/main.ts` and `autocode serve`.
 */
export async function startServer(config: AppConfig): Promise<NestFastifyApplication> {
  logProcessWarnings();
  const releasePidFile = await acquirePidFile(config.pidFile);
  process.once('exit', releasePidFile);
  let app: NestFastifyApplication;
  try {
    app = await createApp(config);
    await app.listen({ host: config.http.host, port: config.http.port });
  } catch (error) {
    releasePidFile();
    throw error;
  }
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  const releaseState = writeServerState(config.dataDir, {
    pid: process.pid,
    url: `http://${config.http.host}:${port}`,
    startedAt: new Date().toISOString(),
    node: config.node,
  });
  handleShutdownSignals(app, config, () => {
    releaseState();
    releasePidFile();
  });
  new Logger('Server').log(startSummary(`http://${config.http.host}:${port}`, config));
  return app;
}

/**
 * Node prints process warnings (a library's advice or deprecation, such as the Agent SDK's about
 * a profile's tools) to stderr, outside the JSON log: its printer is replaced by a log line.
 */
function logProcessWarnings(): void {
  const logger = new Logger('Process');
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: string }) => logger.warn({ warning: warning.name, code: warning.code }, warning.message));
}

/** The one line a person starting the server reads: where it is, where its data is, and what to do next. */
function startSummary(url: string, config: AppConfig): string {
  const where = `listening on ${url} (role ${config.role}), data in ${config.dataDir}`;
  if (config.role === 'worker') return `${where}; a worker serves no API`;
  if (servesDashboard(config)) {
    return `${where}, dashboard at ${url}/, docs at ${url}/api/docs; next: sign in with the link \`npx autocode token create --user <name> --login-url\` prints`;
  }
  return `${where}, docs at ${url}/api/docs; next: create a token with \`npx autocode token create --user <name>\``;
}
