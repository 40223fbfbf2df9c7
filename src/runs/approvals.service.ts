import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { AuthUser } from '../auth/auth.decorators.js';
import { Clock } from '../common/clock.js';
import { ProblemError } from '../common/problem.js';
import { uuidv7 } from '../common/uuid7.js';
import { DatabaseService } from '../database/database.service.js';
import { WebhooksService } from '../webhooks/webhooks.service.js';
import type { ApprovalPolicy } from '../agents/agent-profiles.js';
import type { ApprovalDecision, RequestApproval } from '../agents/executors/approval-gate.js';
import type { DecideApprovalDto } from './dto/decide-approval.dto.js';
import type { Run } from './entities/run.entity.js';
import { RunEventsService } from './run-events.service.js';
import { RUN_COLUMNS, runFromRow, type RunRow } from './run-rows.js';
import { toRunView, type PendingApproval, type RunView } from './run.view.js';

/** How often the node running a gated agent looks in the database for decisions taken elsewhere. */
export const APPROVAL_POLL_MS = 500;

/** What a decision told by `by: timeout` is recorded as. */
const TIMEOUT = 'timeout';

const APPROVAL_COLUMNS = 'id, run_id, tool, input, requested_at, expires_at, decision, decided_by, message, decided_at';
const INSERT_SQL = 'INSERT INTO run_approvals (id, run_id, tool, input, requested_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)';
const FIND_SQL = `SELECT ${APPROVAL_COLUMNS} FROM run_approvals WHERE id = ?`;
const DECIDE_SQL = 'UPDATE run_approvals SET decision = ?, decided_by = ?, message = ?, decided_at = ? WHERE id = ? AND decision IS NULL RETURNING id';
const FIND_RUN_SQL = `SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`;
const FIND_USER_RUN_SQL = `${FIND_RUN_SQL} AND user_id = ?`;

interface ApprovalRow {
  id: string;
  run_id: string;
  tool: string;
  input: string;
  requested_at: string;
  expires_at: string;
  decision: 'allow' | 'deny' | null;
  decided_by: string | null;
  message: string | null;
  decided_at: string | null;
}

/** A gated call waiting on this node: `look` reads its row and settles the wait once it is decided. */
interface Waiter {
  runId: string;
  look(): Promise<void>;
  settle(row: ApprovalRow): void;
}

/** A decision taken on this node about a call that waits on another: the relay tells the others. */
export interface DecisionNews {
  runId: string;
  approvalId: string;
}

function pendingOf(row: ApprovalRow): PendingApproval {
  return { approvalId: row.id, tool: row.tool, input: JSON.parse(row.input) as Record<string, unknown>, requestedAt: row.requested_at, expiresAt: row.expires_at };
}

/**
 * Approval gates: a gated tool call of a running agent is stored in `run_approvals` and waits
 * there for a decision, which any node may take (the database is the truth). The node running
 * the agent learns it at once when the decision is taken on it or arrives over the Redis relay,
 * and otherwise by reading the database every 500 ms while a call waits. The wait ends with the
 * profile's `onTimeout` at its expiry, or when the run stops (its timeout keeps running meanwhile).
 */
@Injectable()
export class ApprovalsService implements OnApplicationShutdown {
  private readonly logger = new Logger(ApprovalsService.name);
  private readonly waiters = new Map<string, Waiter>();
  private readonly relays: ((news: DecisionNews) => void)[] = [];
  private poller: NodeJS.Timeout | null = null;

  constructor(
    private readonly database: DatabaseService,
    private readonly events: RunEventsService,
    private readonly webhooks: WebhooksService,
    private readonly clock: Clock,
  ) {}

  onApplicationShutdown(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
  }

  /** How the agent of `run` (running on this node) asks for decisions under `policy`. */
  gate(run: Run, policy: ApprovalPolicy): RequestApproval {
    return (tool, input, signal) => this.request(run, policy, tool, input, signal);
  }

  private async request(run: Run, policy: ApprovalPolicy, tool: string, input: Record<string, unknown>, signal: AbortSignal): Promise<ApprovalDecision> {
    const stopping: ApprovalDecision = { decision: 'deny', message: 'the run is stopping' };
    if (signal.aborted) return stopping;
    const now = this.clock.now();
    const pending: PendingApproval = {
      approvalId: uuidv7(),
      tool,
      input,
      requestedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + policy.timeoutSeconds * 1000).toISOString(),
    };
    let deliveries: number;
    try {
      deliveries = await this.database.transaction(async (manager) => {
        await this.database.query(manager, INSERT_SQL, [pending.approvalId, run.id, tool, JSON.stringify(input), pending.requestedAt, pending.expiresAt]);
        const [row] = (await this.database.query<RunRow>(manager, FIND_RUN_SQL, [run.id])).rows;
        const view: RunView = { ...toRunView(row ? runFromRow(row) : run), pendingApproval: pending };
        // The outbox: announced if and only if the call is stored as waiting.
        return this.webhooks.enqueueEvent(manager, 'run.approval_requested', view, pending.requestedAt);
      });
    } catch (error) {
      // Nobody could decide a call that is not stored: it does not run.
      this.logger.error(`run ${run.id}: storing a ${tool} call for approval failed: ${(error as Error).message}`);
      return { decision: 'deny', message: `the ${tool} call could not be put up for approval, so it did not run` };
    }
    if (deliveries > 0) this.webhooks.wake();
    this.events.append(run.id, 'approval_requested', { approvalId: pending.approvalId, tool, input });
    this.logger.log({ runId: run.id, approvalId: pending.approvalId, tool }, 'tool call waits for approval');
    const row = await this.wait(run.id, pending, policy, signal);
    if (!row || !row.decision) return stopping;
    const message = row.message ?? undefined;
    this.events.append(run.id, 'approval_decided', { approvalId: row.id, decision: row.decision, by: row.decided_by, ...(message !== undefined ? { message } : {}) });
    this.logger.log({ runId: run.id, approvalId: row.id, decision: row.decision, by: row.decided_by }, 'tool call decided');
    const told = message ?? (row.decided_by === TIMEOUT && row.decision === 'deny' ? `nobody approved this ${tool} call within ${policy.timeoutSeconds} seconds` : undefined);
    return { decision: row.decision, ...(told !== undefined ? { message: told } : {}) };
  }

  /** Settles with the decided row, or null when the run stops first. */
  private wait(runId: string, pending: PendingApproval, policy: ApprovalPolicy, signal: AbortSignal): Promise<ApprovalRow | null> {
    const id = pending.approvalId;
    return new Promise((resolve) => {
      let settled = false;
      const finish = (row: ApprovalRow | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiters.delete(id);
        if (this.waiters.size === 0 && this.poller) {
          clearInterval(this.poller);
          this.poller = null;
        }
        resolve(row);
      };
      const onAbort = (): void => finish(null);
      const look = async (): Promise<void> => {
        try {
          const [row] = (await this.database.query<ApprovalRow>(this.database.dataSource.manager, FIND_SQL, [id])).rows;
          if (row?.decision) finish(row);
        } catch (error) {
          this.logger.warn(`approval ${id}: reading its decision failed: ${(error as Error).message}`);
        }
      };
      const expire = async (): Promise<void> => {
        try {
          await this.database.query(this.database.dataSource.manager, DECIDE_SQL, [policy.onTimeout, TIMEOUT, null, this.clock.now().toISOString(), id]);
          // Whoever won, the stored decision is the one applied.
          await look();
        } catch (error) {
          this.logger.warn(`approval ${id}: recording its timeout failed: ${(error as Error).message}`);
        }
        if (!settled) finish({ id, run_id: runId, tool: pending.tool, input: '{}', requested_at: pending.requestedAt, expires_at: pending.expiresAt, decision: policy.onTimeout, decided_by: TIMEOUT, message: null, decided_at: null });
      };
      const timer = setTimeout(() => void expire(), Math.max(0, Date.parse(pending.expiresAt) - this.clock.now().getTime()));
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.set(id, { runId, look, settle: (row) => finish(row) });
      if (!this.poller) {
        this.poller = setInterval(() => void this.poll(), APPROVAL_POLL_MS);
        this.poller.unref();
      }
    });
  }

  /** Looks for decisions of the calls waiting here that another node took (and whose news did not arrive). */
  private async poll(): Promise<void> {
    const ids = [...this.waiters.keys()];
    if (ids.length === 0) return;
    try {
      const { rows } = await this.database.query<ApprovalRow>(
        this.database.dataSource.manager,
        `SELECT ${APPROVAL_COLUMNS} FROM run_approvals WHERE id IN (${ids.map(() => '?').join(', ')}) AND decision IS NOT NULL`,
        ids,
      );
      for (const row of rows) this.waiters.get(row.id)?.settle(row);
    } catch (error) {
      this.logger.warn(`looking for approval decisions failed: ${(error as Error).message}`);
    }
  }

  /**
   * Records a decision about a waiting call of a run the user owns (or any run, for an admin),
   * and tells the node that runs the agent. A call already decided, timed out, or of a run that
   * is no longer running is closed.
   */
  async decide(user: AuthUser, runId: string, approvalId: string, body: DecideApprovalDto): Promise<RunView> {
    const decidedAt = this.clock.now().toISOString();
    const run = await this.database.transaction(async (manager) => {
      const { rows } =
        user.role === 'admin'
          ? await this.database.query<RunRow>(manager, FIND_RUN_SQL, [runId])
          : await this.database.query<RunRow>(manager, FIND_USER_RUN_SQL, [runId, user.id]);
      if (!rows[0]) throw new ProblemError('run_not_found', `there is no run ${runId}`);
      const run = runFromRow(rows[0]);
      const [approval] = (await this.database.query<ApprovalRow>(manager, `${FIND_SQL} AND run_id = ?`, [approvalId, runId])).rows;
      if (!approval) throw new ProblemError('approval_not_found', `run ${runId} has no approval ${approvalId}`);
      if (approval.decision !== null) {
        throw new ProblemError('approval_closed', `approval ${approvalId} is already decided: ${approval.decision} by ${approval.decided_by}`, {
          extensions: { decision: approval.decision, decidedBy: approval.decided_by },
        });
      }
      if (run.status !== 'running') throw new ProblemError('approval_closed', `run ${runId} is no longer running (${run.status})`, { extensions: { runStatus: run.status } });
      if (approval.expires_at <= decidedAt) throw new ProblemError('approval_closed', `approval ${approvalId} expired at ${approval.expires_at}`);
      const decided = await this.database.query(manager, DECIDE_SQL, [body.decision, user.id, body.message ?? null, decidedAt, approvalId]);
      // Taken meanwhile by another request, or by the timeout.
      if (decided.rows.length === 0) throw new ProblemError('approval_closed', `approval ${approvalId} is already decided`);
      return run;
    });
    this.logger.log({ runId, approvalId, decision: body.decision, by: user.id }, 'approval decided');
    const waiter = this.waiters.get(approvalId);
    if (waiter) void waiter.look();
    else for (const tell of this.relays) tell({ runId, approvalId });
    const [view] = await this.withPending([toRunView(run)]);
    return view!;
  }

  /** Adds a way to tell the other nodes of a decision (the Redis relay). */
  relayDecisions(tell: (news: DecisionNews) => void): void {
    this.relays.push(tell);
  }

  /** Another node took a decision: if the call waits here, it reads it now. */
  decidedElsewhere(news: DecisionNews): void {
    void this.waiters.get(news.approvalId)?.look();
  }

  /** The views with the call each running run waits on (its oldest undecided one), if any. */
  async withPending(views: RunView[]): Promise<RunView[]> {
    const running = views.filter((view) => view.status === 'running').map((view) => view.id);
    if (running.length === 0) return views;
    const { rows } = await this.database.query<ApprovalRow>(
      this.database.dataSource.manager,
      `SELECT ${APPROVAL_COLUMNS} FROM run_approvals WHERE run_id IN (${running.map(() => '?').join(', ')}) AND decision IS NULL ORDER BY requested_at, id`,
      running,
    );
    const pending = new Map<string, PendingApproval>();
    for (const row of rows) if (!pending.has(row.run_id)) pending.set(row.run_id, pendingOf(row));
    return views.map((view) => (pending.has(view.id) ? { ...view, pendingApproval: pending.get(view.id)! } : view));
  }
}
