import type { DatabaseService } from '../database/database.service.js';
import type { NodeView } from './node.view.js';

/** A node is listed while its row is younger than this (three missed heartbeats). */
export const NODE_LIVE_MS = 15_000;

interface NodeRow {
  name: string;
  role: NodeView['role'];
  version: string;
  capacity: number;
  running: number;
  queued: number;
  started_at: string;
  seen_at: string;
}

/** The nodes heard from within the last 15 s, by name. */
export async function listNodes(database: DatabaseService): Promise<NodeView[]> {
  const since = new Date(Date.now() - NODE_LIVE_MS).toISOString();
  const { rows } = await database.query<NodeRow>(
    database.dataSource.manager,
    'SELECT name, role, version, capacity, running, queued, started_at, seen_at FROM nodes WHERE seen_at >= ? ORDER BY name, started_at',
    [since],
  );
  return rows.map((row) => ({
    name: row.name,
    role: row.role,
    version: row.version,
    capacity: Number(row.capacity),
    running: Number(row.running),
    queued: Number(row.queued),
    startedAt: row.started_at,
    lastSeenAt: row.seen_at,
  }));
}
