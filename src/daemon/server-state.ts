import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What `autocode server status` reports of a running server, written next to its PID file. */
export interface ServerState {
  pid: number;
  url: string;
  startedAt: string;
  node: string;
}

export function serverStateFile(dataDir: string): string {
  return join(dataDir, 'server.json');
}

export function writeServerState(dataDir: string, state: ServerState): () => void {
  const file = serverStateFile(dataDir);
  writeFileSync(file + '.tmp', JSON.stringify(state) + '\n', { mode: 0o644 });
  renameSync(file + '.tmp', file);
  return () => {
    try {
      if ((JSON.parse(readFileSync(file, 'utf8')) as ServerState).pid === state.pid) unlinkSync(file);
    } catch {
      // already gone
    }
  };
}

export function readServerState(dataDir: string): ServerState | null {
  try {
    return JSON.parse(readFileSync(serverStateFile(dataDir), 'utf8')) as ServerState;
  } catch {
    return null;
  }
}
