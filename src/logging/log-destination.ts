import { createRequire } from 'node:module';
import pino from 'pino';
import type { DestinationStream } from 'pino';
import type PinoPretty from 'pino-pretty';

const require = createRequire(import.meta.url);

/** pino-pretty is loaded only when asked for (LOG_FORMAT=pretty): most processes never need it. */
function pretty(options: PinoPretty.PrettyOptions): DestinationStream {
  return (require('pino-pretty') as typeof PinoPretty)(options);
}
import type { AppConfig } from '../config/configuration.js';

/** Where log lines go, and how to reopen it after a rotation (SIGHUP, or the size check). */
export interface LogDestination {
  stream: DestinationStream;
  /** The file this process writes, if it writes one (`LOG_FILE`). */
  file: string | null;
  reopen(): void;
  flush(): void;
}

/**
 * JSON lines on stdout by default; `LOG_FORMAT=pretty` for people; a file
 * when `LOG_FILE` is set (what `autocode server start` does). The CLI logs to
 * stderr so its own output on stdout stays clean.
 */
export function openLogDestination(config: AppConfig, target: 'server' | 'cli'): LogDestination {
  if (config.log.file && target === 'server') {
    const file = pino.destination({ dest: config.log.file, append: true, mkdir: true, sync: false });
    return { stream: file, file: config.log.file, reopen: () => file.reopen(), flush: () => file.flushSync() };
  }
  const fd = target === 'cli' ? 2 : 1;
  if (config.log.format === 'pretty') {
    return { stream: pretty({ destination: fd, colorize: false, translateTime: 'SYS:isoDateTime', sync: true }), file: null, reopen: () => {}, flush: () => {} };
  }
  const stream = pino.destination({ dest: fd, sync: target === 'cli' });
  return { stream, file: null, reopen: () => {}, flush: () => stream.flushSync() };
}
