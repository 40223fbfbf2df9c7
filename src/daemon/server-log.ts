import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** A log past this size is rotated when the server starts. */
export const LOG_ROTATE_BYTES = 10 * 1024 * 1024;
export const LOG_KEEP = 5;

export function serverLogFile(dataDir: string): string {
  return join(dataDir, 'logs', 'server.log');
}

/** server.log → server.log.1 → … → server.log.5 (dropped), when server.log has grown past the limit. */
export function rotateLog(file: string, maxBytes = LOG_ROTATE_BYTES, keep = LOG_KEEP): boolean {
  if (!existsSync(file) || statSync(file).size < maxBytes) return false;
  rmSync(`${file}.${keep}`, { force: true });
  for (let i = keep - 1; i >= 1; i--) {
    if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`);
  }
  renameSync(file, `${file}.1`);
  return true;
}
