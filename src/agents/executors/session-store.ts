import type { Options, SessionKey, SessionStore, SessionStoreEntry } from '@anthropic-ai/claude-agent-sdk';
import { Injectable } from '@nestjs/common';
import { cpSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseService } from '../../database/database.service.js';
import { SandboxService } from '../../sandbox/sandbox.service.js';
import type { ClaudeProfile } from '../agent-profiles.js';
import type { ExecutionRequest } from './executor.js';

const INSERT_SQL = 'INSERT INTO session_entries (run_id, session_id, subpath, uuid, entry) VALUES (?, ?, ?, ?, ?)';
/** Which of a batch's uuids the session already has (an index lookup per uuid, however long the session). */
const knownUuidsSql = (count: number): string =>
  `SELECT uuid FROM session_entries WHERE session_id = ? AND subpath = ? AND uuid IN (${Array.from({ length: count }, () => '?').join(', ')})`;
const LOAD_SQL = 'SELECT entry FROM session_entries WHERE session_id = ? AND subpath = ? ORDER BY id';
const SUBKEYS_SQL = "SELECT DISTINCT subpath FROM session_entries WHERE session_id = ? AND subpath <> ''";
const DELETE_SQL = 'DELETE FROM session_entries WHERE session_id = ? AND subpath = ?';
const SESSION_OF_SQL = "SELECT session_id FROM session_entries WHERE run_id = ? AND subpath = '' ORDER BY id LIMIT 1";

/**
 * Claude Code session transcripts in the database, through the Claude Agent SDK's SessionStore
 * interface: the CLI writes its transcript as usual, the SDK mirrors each entry here, and a
 * follow-up's `resume` loads it back, on whichever node runs it and after any restart. Each row
 * belongs to the run whose agent wrote it (and goes with it); a session is looked up by its id
 * alone, which the SDK makes a UUID and which only ever comes from this table, never a client.
 */
@Injectable()
export class SessionTranscripts {
  constructor(
    private readonly database: DatabaseService,
    private readonly sandbox: SandboxService,
  ) {}

  /** The session a run's agent worked in, if it wrote any of its transcript. */
  async sessionOf(runId: string): Promise<string | null> {
    const { rows } = await this.database.query<{ session_id: string }>(this.database.dataSource.manager, SESSION_OF_SQL, [runId]);
    return rows[0]?.session_id ?? null;
  }

  /**
   * The session options of a run: its transcript written (Claude Code's own configuration
   * directory for the run, under the agent's home, removed when it ends) and mirrored here, its
   * user messages echoed (see ConversationInput), and for a follow-up the parent's session to
   * resume; null when that parent left no transcript.
   */
  async options(request: ExecutionRequest<ClaudeProfile>, base: Options): Promise<Options | null> {
    const resume = request.parentRunId ? await this.sessionOf(request.parentRunId) : null;
    if (request.parentRunId && resume === null) return null;
    const configDir = claudeConfigDir(request);
    await mkdir(configDir, { recursive: true, mode: 0o700 });
    // The agent's, as its home is (the agent may run as another uid than the server).
    await this.sandbox.prepare({ cwd: configDir, home: configDir, readOnly: [] });
    return {
      ...base,
      persistSession: true,
      sessionStore: this.storeFor(request.runId),
      sessionStoreFlush: 'eager',
      ...(resume !== null ? { resume } : {}),
      extraArgs: { ...base.extraArgs, 'replay-user-messages': null },
      env: { ...base.env, CLAUDE_CONFIG_DIR: configDir },
    };
  }

  /** Removes the run's local copy of its transcript (the database keeps it). */
  async release(request: Pick<ExecutionRequest, 'home' | 'runId'>): Promise<void> {
    await rm(claudeConfigDir(request), { recursive: true, force: true });
  }

  /**
   * The environment Claude Code starts with. To resume, the SDK writes the loaded transcript into
   * a configuration directory of its own under the server's temporary directory, which a sandboxed
   * agent does not see: it is copied into the run's directory under the agent's home.
   */
  withRunConfigDir(env: Record<string, string | undefined>, request: Pick<ExecutionRequest, 'home' | 'runId'>): Record<string, string | undefined> {
    const configDir = claudeConfigDir(request);
    const given = env.CLAUDE_CONFIG_DIR;
    if (given === undefined || given === configDir) return env;
    cpSync(given, configDir, { recursive: true });
    this.sandbox.handOverSync(configDir);
    // Changed in place: the SDK maps the transcript's path to its session through this same environment.
    env.CLAUDE_CONFIG_DIR = configDir;
    return env;
  }

  /** The SDK's store for one run: what it appends is that run's. */
  storeFor(runId: string): SessionStore {
    const manager = this.database.dataSource.manager;
    return {
      append: async (key: SessionKey, entries: SessionStoreEntry[]) => {
        const subpath = key.subpath ?? '';
        await this.database.transaction(async (transaction) => {
          // Appends are idempotent on an entry's uuid: the SDK retries, and a resume may replay entries.
          const uuids = entries.map((entry) => entry.uuid).filter((uuid): uuid is string => typeof uuid === 'string');
          const known = new Set<string>();
          // In slices, within every database's limit of parameters per statement.
          for (let start = 0; start < uuids.length; start += 500) {
            const slice = uuids.slice(start, start + 500);
            const { rows } = await this.database.query<{ uuid: string }>(transaction, knownUuidsSql(slice.length), [key.sessionId, subpath, ...slice]);
            for (const row of rows) known.add(row.uuid);
          }
          for (const entry of entries) {
            const uuid = typeof entry.uuid === 'string' ? entry.uuid : null;
            if (uuid !== null) {
              if (known.has(uuid)) continue;
              known.add(uuid);
            }
            await this.database.query(transaction, INSERT_SQL, [runId, key.sessionId, subpath, uuid, JSON.stringify(entry)]);
          }
        });
      },
      load: async (key: SessionKey) => {
        const { rows } = await this.database.query<{ entry: string }>(manager, LOAD_SQL, [key.sessionId, key.subpath ?? '']);
        return rows.length === 0 ? null : rows.map((row) => JSON.parse(row.entry) as SessionStoreEntry);
      },
      listSubkeys: async (key: { projectKey: string; sessionId: string }) => {
        const { rows } = await this.database.query<{ subpath: string }>(manager, SUBKEYS_SQL, [key.sessionId]);
        return rows.map((row) => row.subpath);
      },
      delete: async (key: SessionKey) => {
        await this.database.query(manager, DELETE_SQL, [key.sessionId, key.subpath ?? '']);
      },
    };
  }
}

function claudeConfigDir(request: Pick<ExecutionRequest, 'home' | 'runId'>): string {
  return join(request.home, '.autocode', 'claude', request.runId);
}
