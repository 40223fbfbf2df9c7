/** A server process sharing the database. */
export class NodeView {
  /** NODE_NAME (several processes may share one). */
  name: string;
  role: 'all' | 'api' | 'worker';
  version: string;
  /** Agents it may run at once (MAX_CONCURRENT_AGENTS; 0 for ROLE=api). */
  capacity: number;
  /** Agents running on it. */
  running: number;
  /** Runs waiting that it knows of. */
  queued: number;
  startedAt: string;
  /** Its last heartbeat (every 5 s). */
  lastSeenAt: string;
}
