import { Injectable } from '@nestjs/common';
import { ProblemError } from '../common/problem.js';
import { uuidv7 } from '../common/uuid7.js';
import { DatabaseService } from '../database/database.service.js';
import { AgentProfilesService } from '../agents/agent-profiles.service.js';
import { SessionTranscripts } from '../agents/executors/session-store.js';
import { RunInboxesService } from '../dispatch/run-inboxes.service.js';
import { isFinal, type Run } from './entities/run.entity.js';
import type { SubmitRunDto } from './dto/submit-run.dto.js';
import type { RunView } from './run.view.js';
import { RunsService } from './runs.service.js';

// Takes the run's row (PostgreSQL locks it) only while it runs: a message is stored before its run's end, or not at all.
const STILL_ACTIVE_SQL = "UPDATE runs SET status = status WHERE id = ? AND status IN ('queued', 'running') RETURNING id";
const INSERT_MESSAGE_SQL = 'INSERT INTO run_messages (id, run_id, prompt, created_at) VALUES (?, ?, ?, ?)';

/**
 * Messages to a run (`POST /api/v1/runs/:id/messages`): one to a queued or running `claude` run
 * goes into its live session; one to a finished run starts a follow-up, a new run of the same
 * agent in the same workspace that continues where it ended (the same session for `claude`, the
 * profile's `resumeCommand` for a `command` agent), admitted by the quota like any submit.
 */
@Injectable()
export class FollowUpsService {
  constructor(
    private readonly runs: RunsService,
    private readonly database: DatabaseService,
    private readonly profiles: AgentProfilesService,
    private readonly sessions: SessionTranscripts,
    private readonly inboxes: RunInboxesService,
  ) {}

  /** The run that got the message: the live run itself, or the follow-up it started. */
  async send(userId: string, runId: string, prompt: string): Promise<RunView> {
    let run = await this.runs.find({ userId }, runId);
    const profile = this.profiles.find(run.agent);
    if (!profile) throw new ProblemError('follow_up_unsupported', `agent profile "${run.agent}" of run ${runId} no longer exists`);
    if (!isFinal(run.status)) {
      if (profile.executor !== 'claude') {
        throw new ProblemError('follow_up_unsupported', `run ${runId} is ${run.status}, and a "${profile.executor}" agent reads no messages while it runs; send it once the run has finished`, {
          extensions: { runStatus: run.status },
        });
      }
      if (await this.store(runId, prompt)) {
        this.inboxes.notify(runId);
        return this.runs.get({ userId }, runId);
      }
      // It finished meanwhile: the message follows it up instead.
      run = await this.runs.find({ userId }, runId);
    }
    if (profile.executor === 'command' && profile.resumeCommand === null) {
      throw new ProblemError('follow_up_unsupported', `agent profile "${run.agent}" declares no resumeCommand, so its runs cannot be followed up`);
    }
    if (profile.executor === 'claude' && (await this.sessions.sessionOf(runId)) === null) {
      throw new ProblemError('follow_up_unsupported', `run ${runId} left no session transcript to continue (it ended before its agent started)`);
    }
    return (await this.runs.submit(userId, followUpRequest(run, prompt), null, run)).run;
  }

  private store(runId: string, prompt: string): Promise<boolean> {
    return this.database.transaction(async (manager) => {
      const { rows } = await this.database.query(manager, STILL_ACTIVE_SQL, [runId]);
      if (rows.length === 0) return false;
      await this.database.query(manager, INSERT_MESSAGE_SQL, [uuidv7(), runId, prompt, new Date().toISOString()]);
      return true;
    });
  }
}

/** A follow-up runs as the run it continues: the same agent, workspace, model, timeout, budget and metadata. */
function followUpRequest(run: Run, prompt: string): SubmitRunDto {
  return {
    agent: run.agent,
    prompt,
    timeoutSeconds: run.timeoutSeconds,
    metadata: run.metadata,
    ...(run.workspace !== null ? { workspace: run.workspace } : {}),
    ...(run.model !== null ? { model: run.model } : {}),
    ...(run.maxBudgetUsd !== null && run.maxBudgetUsd !== undefined ? { maxBudgetUsd: run.maxBudgetUsd } : {}),
  };
}
