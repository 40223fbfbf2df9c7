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

/** The `AUTOCODE_RUN_ID` a process was started with, which every agent's descendants inherit; null for any other process. */
function runIdOf(pid: number): string | null {
  try {
    const entry = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').find((variable) => variable.startsWith('AUTOCODE_RUN_ID='));
    return entry === undefined ? null : entry.slice('AUTOCODE_RUN_ID='.length);
  } catch {
    return null;
  }
}

/** Process groups to end, each with the id of its run to find what left the group. */
export interface GroupTarget {
  /** Null when the group is gone (or its pgid may belong to someone else now): then only the processes carrying the run id are ours. */
  pgid: number | null;
  runId?: string;
}

/**
 * Live (non-zombie) processes of the groups and, for those with a run id,
 * the processes started for that run that have left the group: agent tools
 * often start commands in a session of their own (Claude Code's Bash tool
 * does), and a double fork leaves no parent to trace them by. One scan of
 * /proc serves every target.
 */
function liveProcesses(targets: GroupTarget[]): { group: number[]; outside: number[] } {
  const pgids = new Set(targets.flatMap((target) => (target.pgid === null ? [] : [target.pgid])));
  const runIds = new Set(targets.flatMap((target) => (target.runId === undefined ? [] : [target.runId])));
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return { group: [...pgids].filter((pgid) => signalGroup(pgid, 0)), outside: [] };
  }
  const stats = entries.filter((entry) => /^\d+$/.test(entry)).map((entry) => readStat(Number(entry)));
  const live = stats.filter((stat): stat is ProcStat => stat !== null && stat.state !== 'Z');
  const group = live.filter((stat) => pgids.has(stat.pgrp)).map((stat) => stat.pid);
  if (runIds.size === 0) return { group, outside: [] };
  const others = live.filter((stat) => !pgids.has(stat.pgrp) && stat.pid !== process.pid);
  return { group, outside: others.filter((stat) => runIds.has(runIdOf(stat.pid) ?? '')).map((stat) => stat.pid) };
}

/** Live (non-zombie) members of a process group, and with a run id every live process started for that run. */
export async function groupMembers(pgid: number, runId?: string): Promise<number[]> {
  const { group, outside } = liveProcesses([{ pgid, runId }]);
  return [...group, ...outside];
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
export function terminateGroup(pgid: number | null, graceMs: number, runId?: string, options: TerminateOptions = {}): Promise<void> {
  return terminateGroups([{ pgid, runId }], graceMs, options);
}

/**
 * Ends several groups as `terminateGroup` ends one, all at once: one grace
 * period for all of them, however many there are.
 */
export async function terminateGroups(targets: GroupTarget[], graceMs: number, options: TerminateOptions = {}): Promise<void> {
  const members = async (): Promise<number[]> => {
    const { group, outside } = liveProcesses(targets);
    return [...group, ...outside];
  };
  const signal = (name: NodeJS.Signals): void => {
    if (!(options.leaderLast && name === 'SIGTERM')) {
      for (const { pgid } of targets) if (pgid !== null) signalGroup(pgid, name);
    }
    for (const pid of liveProcesses(targets).outside) signalProcess(pid, name);
  };
  if ((await members()).length === 0) return;
  signal('SIGTERM');
  if (await waitForExit(members, graceMs)) return;
  signal('SIGKILL');
  await waitForExit(members, 10_000);
}
