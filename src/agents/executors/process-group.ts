import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 50;

interface ProcStat {
  pid: number;
  state: string;
  pgrp: number;
  startTime: string;
}

/** Reads `/proc/<pid>/stat`; the command name may hold spaces and parentheses, so parse from the last `)`. */
async function readStat(pid: number): Promise<ProcStat | null> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the command: state(3) ppid(4) pgrp(5) … starttime(22), i.e. indexes 0, 1, 2 … 19.
  return { pid, state: fields[0]!, pgrp: Number(fields[2]), startTime: fields[19]! };
}

/** The kernel's start time of a process (clock ticks since boot), or null when it is gone. */
export async function processStartTime(pid: number): Promise<string | null> {
  return (await readStat(pid))?.startTime ?? null;
}

/** Live (non-zombie) members of a process group. */
export async function groupMembers(pgid: number): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return signalGroup(pgid, 0) ? [pgid] : [];
  }
  const stats = await Promise.all(entries.filter((entry) => /^\d+$/.test(entry)).map((entry) => readStat(Number(entry))));
  return stats.filter((stat): stat is ProcStat => stat !== null && stat.pgrp === pgid && stat.state !== 'Z').map((stat) => stat.pid);
}

/** Sends a signal to every process of a group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

async function waitForGroupExit(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await groupMembers(pgid)).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}

/**
 * Ends a whole process group the way every run ends: SIGTERM to the group,
 * up to `graceMs` for it to leave, then SIGKILL to whatever is left.
 * Resolves once no live process of the group remains.
 */
export async function terminateGroup(pgid: number, graceMs: number): Promise<void> {
  if ((await groupMembers(pgid)).length === 0) return;
  signalGroup(pgid, 'SIGTERM');
  if (await waitForGroupExit(pgid, graceMs)) return;
  signalGroup(pgid, 'SIGKILL');
  await waitForGroupExit(pgid, 10_000);
}
