import { Column, Entity, PrimaryColumn } from 'typeorm';

export const EVENT_TYPES = ['status', 'stdout', 'stderr', 'message', 'tool_use', 'tool_result', 'result', 'user_message', 'approval_requested', 'approval_decided'] as const;
export type RunEventType = (typeof EVENT_TYPES)[number];

/** One event of a run. Append-only; `seq` starts at 1 per run and has no gaps. */
@Entity({ name: 'run_events' })
export class RunEvent {
  @PrimaryColumn({ name: 'run_id', type: 'varchar', length: 36 })
  runId: string;

  @PrimaryColumn({ type: 'integer' })
  seq: number;

  @Column({ type: 'varchar', length: 32 })
  ts: string;

  @Column({ type: 'varchar', length: 32 })
  type: RunEventType;

  @Column({ type: 'simple-json' })
  data: Record<string, unknown>;
}
