import { getQueueToken, InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit, type Provider } from '@nestjs/common';
import { DelayedError, Queue, type Job, type Worker } from 'bullmq';
import { RunQueue, type QueuedRun, type RunHandler } from '../run-queue.js';

export const RUNS_QUEUE = 'runs';
/** BullMQ's largest priority. */
const MAX_PRIORITY = 2_097_152;
/**
 * How long the job of a user at their limit waits before it is offered again: doubling from the
 * first to the last, each time it is found so. A run of theirs ending on this node offers one of
 * their jobs parked here at once; one ending elsewhere is seen by the next offer.
 */
const PARK_MS = [250, 500, 1_000, 2_000];
/** A run whose claim failed (the database away) is offered again after this. */
const RETRY_MS = 2_000;
/** An enqueue that Redis has not answered by then is left to the sweep. */
const ENQUEUE_TIMEOUT_MS = 2_000;
const DEPTH_REFRESH_MS = 5_000;
const CLOSE_TIMEOUT_MS = 2_000;


/**
 * The runs queue, made here rather than by BullModule.registerQueue so that its error listener is
 * there before it first connects: an error without a listener is printed to stderr, outside the
 * JSON log.
 */
export function runsQueueProvider(redisUrl: string): Provider {
  return {
    provide: getQueueToken(RUNS_QUEUE),
    useFactory: () => {
      // The worker of this node takes these options too (BullMQ's explorer reads them from the queue): its blocking
      // commands must wait for Redis without end. An enqueue that waits longer than ENQUEUE_TIMEOUT_MS is left to
      // the sweep, and still happens once Redis is back (the job id makes it once).
      const queue = new Queue(RUNS_QUEUE, { connection: { url: redisUrl, maxRetriesPerRequest: null }, prefix: 'autocode' });
      const warn = throttledWarning(new Logger(BullRunQueue.name));
      queue.on('error', (error) => warn(`the run queue's Redis connection: ${error.message}`));
      return queue;
    },
  };
}

/** A warning at most every 10 s: with Redis away, every command fails the same way, many times a second. */
export function throttledWarning(logger: Logger): (message: string) => void {
  let lastWarnedAt = 0;
  return (message) => {
    if (Date.now() - lastWarnedAt < 10_000) return;
    lastWarnedAt = Date.now();
    logger.warn(message);
  };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: Redis did not answer within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The run queue of several nodes: a BullMQ job per queued run, its id the
 * run's, in the Redis of `REDIS_URL`. Workers take jobs only with a free slot
 * (the worker's concurrency is `MAX_CONCURRENT_AGENTS`, and a job stays active
 * while its agent runs); a job whose user is at their limit goes back to
 * wait, delayed, holding no slot. Users take turns: a job's priority is its
 * place among its user's queued runs, so the first run of every user comes
 * before the second of any. A node that dies with a job active loses its lock
 * and BullMQ offers the job again, but the run was claimed in the database
 * and is not started twice; the node's heartbeat (NodesService) records it
 * interrupted.
 */
@Injectable()
export class BullRunQueue extends RunQueue implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(BullRunQueue.name);
  private readonly warn = throttledWarning(this.logger);
  private handler: RunHandler | null = null;
  private worker: { worker: Worker; capacity: number } | null = null;
  private lastDepth = 0;
  private depthTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  /** The jobs this node parked, per user, oldest first. */
  private readonly parked = new Map<string, string[]>();

  constructor(@InjectQueue(RUNS_QUEUE) private readonly queue: Queue) {
    super();
  }

  get adapter(): string {
    return 'bullmq';
  }

  get depth(): number {
    return this.lastDepth;
  }

  /** Runs reach the workers through Redis; the sweep only rescues those whose enqueue was lost. */
  get sweepIntervalMs(): number {
    return 5_000;
  }

  onModuleInit(): void {
    this.depthTimer = setInterval(() => void this.refreshDepth(), DEPTH_REFRESH_MS);
    this.depthTimer.unref();
  }

  onApplicationShutdown(): Promise<void> {
    return this.close();
  }

  /**
   * Closes the worker (its agents have ended by now) and the queue. With Redis away a close would
   * wait for it without end: after CLOSE_TIMEOUT_MS the connections are dropped instead.
   */
  close(): Promise<void> {
    if (this.depthTimer) clearInterval(this.depthTimer);
    this.closing ??= (async () => {
      const worker = this.worker?.worker;
      try {
        await within(Promise.all([worker?.close(true), this.queue.close()]), CLOSE_TIMEOUT_MS, 'close the run queue');
      } catch (error) {
        this.warn(`${(error as Error).message}: disconnecting`);
        await Promise.allSettled([worker?.disconnect(), this.queue.disconnect()]);
      }
    })();
    return this.closing;
  }

  async enqueue(run: QueuedRun): Promise<void> {
    try {
      await within(this.queue.add('run', run, this.jobOptions(run.id, run.position)), ENQUEUE_TIMEOUT_MS, `enqueue run ${run.id}`);
    } catch (error) {
      this.warn(`run ${run.id} stays queued until the next sweep: ${(error as Error).message}`);
    }
  }

  async enqueueAll(runs: QueuedRun[]): Promise<void> {
    if (runs.length === 0) return;
    try {
      await within(this.queue.addBulk(runs.map((run) => ({ name: 'run', data: run, opts: this.jobOptions(run.id, run.position) }))), ENQUEUE_TIMEOUT_MS, `enqueue ${runs.length} runs`);
    } catch (error) {
      this.warn(`${runs.length} queued run(s) wait for Redis: ${(error as Error).message}`);
    }
  }

  forget(runId: string): void {
    // A job being handed out cannot be removed; it is then found gone when claimed.
    void this.queue.remove(runId).catch(() => undefined);
  }

  consume(handler: RunHandler): void {
    this.handler = handler;
    this.start();
  }

  /** The worker of this node (ROLE all or worker), created by BullMQ and started once the dispatcher consumes. */
  attachWorker(worker: Worker, capacity: number): void {
    this.worker = { worker, capacity };
    this.start();
  }

  async pause(): Promise<void> {
    // Stops taking jobs; the jobs of running agents stay active until their runs end.
    await this.worker?.worker.pause(true);
  }

  /** A run of `userId` ended here: one of their jobs parked by this node is offered now. */
  wake(userId?: string): void {
    // BullMQ's workers wait on Redis for new jobs: only a parked one needs a nudge.
    const jobId = userId === undefined ? undefined : this.parked.get(userId)?.shift();
    if (jobId === undefined) return;
    void this.queue
      .getJob(jobId)
      .then((job) => job?.promote())
      .catch(() => undefined);
  }

  /** A job handed to this node's worker. */
  async process(job: Job<QueuedRun>, token: string | undefined): Promise<void> {
    let delivery;
    try {
      delivery = await this.handler!(job.data);
    } catch (error) {
      this.warn(`run ${job.data.id} could not be claimed, offered again in ${RETRY_MS} ms: ${(error as Error).message}`);
      await job.moveToDelayed(Date.now() + RETRY_MS, token);
      throw new DelayedError();
    }
    if (delivery.outcome === 'user_at_limit') {
      const parked = this.parked.get(job.data.userId) ?? [];
      // Another node may take it meanwhile: the list is a hint, kept short.
      if (!parked.includes(job.id!) && parked.length < 100) parked.push(job.id!);
      this.parked.set(job.data.userId, parked);
      await job.moveToDelayed(Date.now() + PARK_MS[Math.min(Math.max(job.attemptsStarted - 1, 0), PARK_MS.length - 1)]!, token);
      throw new DelayedError();
    }
    this.unpark(job.data.userId, job.id!);
    if (delivery.outcome === 'started') await delivery.ended;
  }

  private unpark(userId: string, jobId: string): void {
    const parked = this.parked.get(userId);
    if (!parked) return;
    const index = parked.indexOf(jobId);
    if (index !== -1) parked.splice(index, 1);
    if (parked.length === 0) this.parked.delete(userId);
  }

  private start(): void {
    if (!this.handler || !this.worker || this.worker.worker.isRunning()) return;
    this.worker.worker.concurrency = this.worker.capacity;
    void this.worker.worker.run().catch((error: Error) => this.logger.error(`the run queue's worker stopped: ${error.message}`));
  }

  private jobOptions(runId: string, position: number) {
    return { jobId: runId, priority: Math.min(position + 1, MAX_PRIORITY), removeOnComplete: true, removeOnFail: true };
  }

  private async refreshDepth(): Promise<void> {
    try {
      const counts = await within(this.queue.getJobCounts('waiting', 'prioritized', 'delayed'), ENQUEUE_TIMEOUT_MS, 'count jobs');
      this.lastDepth = Object.values(counts).reduce((sum, count) => sum + count, 0);
    } catch {
      // Redis away: the last count stands; health says Redis is down.
    }
  }
}
