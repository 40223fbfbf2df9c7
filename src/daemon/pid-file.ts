import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { processStartTime } from '../agents/executors/process-group.js';

export class ServerAlreadyRunningError extends Error {
  override name = 'ServerAlreadyRunningError';
}

interface PidRecord {
  pid: number;
  /** Kernel start time of that process, so a pid reused by another program is never taken for ours. */
  startTime: string | null;
}

function parse(text: string): PidRecord | null {
  const [pid, startTime] = text.trim().split(/\s+/);
  return pid && /^\d+$/.test(pid) ? { pid: Number(pid), startTime: startTime ?? null } : null;
}

/** The PID file's record if the process it names is alive and is the one that wrote it. */
export async function readLivePidFile(file: string): Promise<PidRecord | null> {
  let record: PidRecord | null;
  try {
    record = parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
  if (!record) return null;
  const startTime = await processStartTime(record.pid);
  if (startTime === null || (record.startTime !== null && startTime !== record.startTime)) return null;
  return record;
}

/**
 * Takes the PID file: created with O_EXCL, so of two servers starting on one
 * DATA_DIR only one gets it. A file left by a dead process (or by a process
 * that reused its pid) is stale and replaced; a live owner makes this throw.
 * Returns a release function that removes the file if it is still ours.
 */
export async function acquirePidFile(file: string): Promise<() => void> {
  const own = `${process.pid} ${(await processStartTime(process.pid)) ?? ''}`.trim() + '\n';
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      try {
        writeSync(fd, own);
      } finally {
        closeSync(fd);
      }
      return () => {
        try {
          if (readFileSync(file, 'utf8') === own) unlinkSync(file);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = await readLivePidFile(file);
    if (owner) {
      throw new ServerAlreadyRunningError(`a server is already running on this data directory (pid ${owner.pid}, ${file})`);
    }
    try {
      unlinkSync(file);
    } catch {
      // another starter removed the stale file first; the next attempt decides
    }
  }
  throw new ServerAlreadyRunningError(`another server took ${file} while this one was starting`);
}
