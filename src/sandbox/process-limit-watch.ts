import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const INTERVAL_MS = 500;
/** Scans in a row at the limit before the run is ended: a build may touch its limit for a moment. */
const STRIKES = 3;

interface Watched {
  namespace: string;
  limit: number;
  strikes: number;
  events: LimitEvents;
}

export interface LimitEvents {
  /** The sandbox was seen at its limit (its forks fail from now on). */
  atLimit(): void;
  /** It stayed there: end it. */
  exceeded(): void;
}

/** The PID namespace of a process (`pid:[4026532…]`), or null when it is gone. */
export function pidNamespace(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return null;
  }
}

/** Threads of a process: the kernel's process limit counts each of them. */
function threadCount(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command: state(3) … num_threads(20), i.e. index 17.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[17]) || 1;
  } catch {
    return 0;
  }
}

/**
 * Ends runs whose sandbox sits at its process limit. The kernel already
 * refuses their forks (RLIMIT_NPROC, counted per sandbox); without this a fork
 * bomb would spin at the limit until its timeout. One scan of /proc serves
 * every watched sandbox: each is told apart by its PID namespace.
 */
export class ProcessLimitWatch {
  private readonly watched = new Set<Watched>();
  private timer: NodeJS.Timeout | null = null;

  /** Watches the sandbox whose init has host pid `initPid`; returns the function that stops watching it. */
  watch(initPid: number, limit: number, events: LimitEvents): () => void {
    const namespace = pidNamespace(initPid);
    if (namespace === null) return () => {};
    const entry: Watched = { namespace, limit, strikes: 0, events };
    this.watched.add(entry);
    this.timer ??= setInterval(() => this.scan(), INTERVAL_MS).unref();
    return () => this.unwatch(entry);
  }

  private unwatch(entry: Watched): void {
    this.watched.delete(entry);
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private scan(): void {
    const counts = new Map<string, number>();
    const namespaces = new Set([...this.watched].map((entry) => entry.namespace));
    for (const entry of readdirSync('/proc')) {
      if (entry.charCodeAt(0) > 57) continue; // not a pid
      const namespace = pidNamespace(Number(entry));
      if (namespace !== null && namespaces.has(namespace)) counts.set(namespace, (counts.get(namespace) ?? 0) + threadCount(Number(entry)));
    }
    for (const entry of [...this.watched]) {
      // The kernel stops forks at the limit; a count within a few of it, again and again, is a sandbox pinned there.
      const atLimit = (counts.get(entry.namespace) ?? 0) >= entry.limit - Math.max(2, Math.floor(entry.limit / 20));
      entry.strikes = atLimit ? entry.strikes + 1 : 0;
      if (atLimit) entry.events.atLimit();
      if (entry.strikes >= STRIKES) {
        this.unwatch(entry);
        entry.events.exceeded();
      }
    }
  }
}
