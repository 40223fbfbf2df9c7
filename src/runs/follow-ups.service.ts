import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ProblemError } from '../common/problem.js';
import { uuidv7 } from '../common/uuid7.js';
import { DatabaseService } from '../database/database.service.js';
import { AgentProfilesService } from '../agents/agent-profiles.service.js';
import { SessionTranscripts } from '../agents/executors/session-store.js';
import { DispatcherService } from '../dispatch/dispatcher.service.js';
import { RunInboxesService } from '../dispatch/run-inboxes.service.js';
import { isFinal, type Run } from './entities/run.entity.js';
import type { SubmitRunDto } from './dto/submit-run.dto.js';
import type { RunView } from './run.view.js';
import { RunsService } from './runs.service.js';

// Takes the run's row (PostgreSQL locks it) only while it runs: a message is stored before its run's end, or not at all.
const STILL_ACTIVE_SQL = "UPDATE runs SET status = status WHERE id = ? AND status IN ('queued', 'running') RETURNING id";
const INSERT_MESSAGE_SQL = 'INSERT INTO run_messages (id, run_id, prompt, created_at) VALUES (?, ?, ?, ?)';
const LEFT_OVER_SQL = 'SELECT id, prompt FROM run_messages WHERE run_id = ? AND delivered_at IS NULL ORDER BY id';
const TAKEN_SQL = 'UPDATE run_messages SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL';

/**
 * Messages to a run (`POST /api/v1/runs/:id/messages`): one to a queued or running `claude` run
 * goes into its live session; one to a finished run starts a follow-up, a new run of the same
 * agent in the same workspace that continues where it ended (the same session for `claude`, the
 * profile's `resumeCommand` for a `command` agent), admitted by the quota like any submit.
 */
@Injectable()
export class FollowUpsService implements OnModuleInit {
  private readonly logger = new Logger(FollowUpsService.name);

  constructor(
    private readonly runs: RunsService,
    private readonly database: DatabaseService,
    private readonly profiles: AgentProfilesService,
    private readonly sessions: SessionTranscripts,
    private readonly inboxes: RunInboxesService,
    private readonly dispatcher: DispatcherService,
  ) {}

  onModuleInit(): void {
    this.dispatcher.onRunFinished((run) => {
      if (run.status === 'succeeded' || run.status === 'failed') {
        void this.followUpLeftovers(run).catch((error: Error) => this.logger.error({ runId: run.id }, `messages left over by run ${run.id} could not be followed up: ${error.message}`));
      }
    });
  }

  /**
   * Messages accepted for a run whose agent stopped reading before they reached it (its last turn
   * ended as they came) are not dropped: on the node that ran it, once it has ended by itself, they
   * start a follow-up together, in the order they were sent.
   */
  private async followUpLeftovers(run: Run): Promise<void> {
    const manager = this.database.dataSource.manager;
    const { rows } = await this.database.query<{ id: string; prompt: string }>(manager, LEFT_OVER_SQL, [run.id]);
    const taken: string[] = [];
    for (const message of rows) {
      const { affected } = await this.database.query(manager, TAKEN_SQL, [new Date().toISOString(), message.id]);
      if (affected > 0) taken.push(message.prompt);
    }
    if (taken.length === 0) return;
    const followUp = await this.send(run.userId, run.id, taken.join('\n\n'));
    this.logger.warn({ runId: run.id }, `${taken.length} message(s) reached run ${run.id} as it ended: follow-up ${followUp.id} takes them`);
  }

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
