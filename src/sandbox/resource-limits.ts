import { readFileSync } from 'node:fs';

/** What one run may use; the tier's values, lowered by the profile's. `null`: no limit of ours. */
export interface ResourceLimits {
  /** Processes and threads alive at once in the run's sandbox (the kernel counts threads too). */
  processes: number | null;
  /** Open file descriptors per process. */
  openFiles: number | null;
  /** Largest file a process may write, in MiB. */
  fileSizeMb: number | null;
  /** Virtual address space per process, in MiB. Off by default: JavaScript runtimes reserve far more than they use. */
  addressSpaceMb: number | null;
}

export const RESOURCE_LIMIT_NAMES = ['processes', 'openFiles', 'fileSizeMb', 'addressSpaceMb'] as const;

/** The lower of two limits, where `null` means none. */
function lower(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null) return b ?? null;
  if (b == null) return a;
  return Math.min(a, b);
}

export function combineLimits(tier: ResourceLimits, profile: Partial<ResourceLimits>): ResourceLimits {
  return {
    processes: lower(tier.processes, profile.processes),
    openFiles: lower(tier.openFiles, profile.openFiles),
    fileSizeMb: lower(tier.fileSizeMb, profile.fileSizeMb),
    addressSpaceMb: lower(tier.addressSpaceMb, profile.addressSpaceMb),
  };
}

const MIB = 1024 * 1024;

let cachedHardLimits: Map<string, number> | null = null;

/** This process's hard limits, by the name `/proc/self/limits` gives them (read once); a limit may not be raised past them. */
function hardLimits(): Map<string, number> {
  if (cachedHardLimits) return cachedHardLimits;
  const limits = (cachedHardLimits = new Map<string, number>());
  let text = '';
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return limits;
  }
  for (const line of text.split('\n').slice(1)) {
    const match = line.match(/^(.+?)\s{2,}(\S+)\s+(\S+)/);
    if (match && match[3] !== 'unlimited') limits.set(match[1]!.trim(), Number(match[3]));
  }
  return limits;
}

/**
 * `prlimit` options for a run, each value capped at the server's own hard
 * limit (an unprivileged process can lower a limit, not raise it). The
 * process limit is left out unless `withProcesses`: outside a user namespace
 * it would count every process of the server's user, not the run's.
 */
export function prlimitOptions(limits: ResourceLimits, withProcesses: boolean): string[] {
  const hard = hardLimits();
  const option = (flag: string, value: number | null, name: string): string[] => {
    if (value === null) return [];
    const capped = Math.min(value, hard.get(name) ?? Number.POSITIVE_INFINITY);
    return [`--${flag}=${capped}:${capped}`];
  };
  return [
    ...(withProcesses ? option('nproc', limits.processes, 'Max processes') : []),
    ...option('nofile', limits.openFiles, 'Max open files'),
    ...option('fsize', limits.fileSizeMb === null ? null : limits.fileSizeMb * MIB, 'Max file size'),
    ...option('as', limits.addressSpaceMb === null ? null : limits.addressSpaceMb * MIB, 'Max address space'),
  ];
}
