import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 50;

interface ProcStat {
  pid: number;
  state: string;
  pgrp: number;
  startTime: string;
}

// The /proc files below are tiny and kernel-generated: reading them synchronously costs microseconds,
// where the promise API would cost a thread-pool round trip per file for a scan of every process.

/** Reads `/proc/<pid>/stat`; the command name may hold spaces and parentheses, so parse from the last `)`. */
function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the command: state(3) ppid(4) pgrp(5) … starttime(22), i.e. indexes 0, 1, 2 … 19.
  return { pid, state: fields[0]!, pgrp: Number(fields[2]), startTime: fields[19]! };
}

/** The kernel's start time of a process (clock ticks since boot), or null when it is gone. */
export async function processStartTime(pid: number): Promise<string | null> {
  return readStat(pid)?.startTime ?? null;
}

/** Whether a process was started with `AUTOCODE_RUN_ID=<runId>` in its environment, which every agent's descendants inherit. */
function startedFor(pid: number, runId: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`AUTOCODE_RUN_ID=${runId}`);
  } catch {
    return false;
  }
}

/**
 * Live (non-zombie) processes of a group and, with a run id, those started
 * for that run that have left the group: agent tools often start commands in
 * a session of their own (Claude Code's Bash tool does), and a double fork
 * leaves no parent to trace them by.
 */
function liveProcesses(pgid: number, runId?: string): { group: number[]; outside: number[] } {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return { group: signalGroup(pgid, 0) ? [pgid] : [], outside: [] };
  }
  const stats = entries.filter((entry) => /^\d+$/.test(entry)).map((entry) => readStat(Number(entry)));
  const live = stats.filter((stat): stat is ProcStat => stat !== null && stat.state !== 'Z');
  const group = live.filter((stat) => stat.pgrp === pgid).map((stat) => stat.pid);
  if (runId === undefined) return { group, outside: [] };
  const others = live.filter((stat) => stat.pgrp !== pgid && stat.pid !== process.pid);
  return { group, outside: others.filter((stat) => startedFor(stat.pid, runId)).map((stat) => stat.pid) };
}

/** Live (non-zombie) members of a process group, and with a run id every live process started for that run. */
export async function groupMembers(pgid: number, runId?: string): Promise<number[]> {
  const { group, outside } = liveProcesses(pgid, runId);
  return [...group, ...outside];
}

/** A process group id no process has. */
const NO_GROUP = -1;

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

/** Sends a signal to one process; false when it no longer exists. */
function signalProcess(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

async function waitForExit(members: () => Promise<number[]>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await members()).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}

export interface TerminateOptions {
  /**
   * SIGTERM only the run's processes outside the group, and the group itself
   * only with the final SIGKILL: for a sandbox, whose group is bubblewrap,
   * which takes everything inside down with it the moment it ends.
   */
  leaderLast?: boolean;
}

/**
 * Ends a whole process group the way every run ends: SIGTERM to the group,
 * up to `graceMs` for it to leave, then SIGKILL to whatever is left. With a
 * run id, the processes started for that run outside the group go the same
 * way. Resolves once none of them is alive.
 */
export async function terminateGroup(pgid: number | null, graceMs: number, runId?: string, options: TerminateOptions = {}): Promise<void> {
  // Without a group (its leader is gone and the pgid may belong to someone else now), only the
  // processes that carry the run's id are ours to end.
  const group = pgid ?? NO_GROUP;
  const members = () => groupMembers(group, runId);
  const signal = async (name: NodeJS.Signals): Promise<void> => {
    if (pgid !== null && !(options.leaderLast && name === 'SIGTERM')) signalGroup(pgid, name);
    for (const pid of liveProcesses(group, runId).outside) signalProcess(pid, name);
  };
  if ((await members()).length === 0) return;
  await signal('SIGTERM');
  if (await waitForExit(members, graceMs)) return;
  await signal('SIGKILL');
  await waitForExit(members, 10_000);
}
