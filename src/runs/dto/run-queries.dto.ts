import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { RUN_STATUSES, type RunStatus } from '../entities/run.entity.js';

/** Query of `GET /api/v1/runs`. */
export class ListRunsQuery {
  @IsOptional() @IsIn(RUN_STATUSES)
  status?: RunStatus;

  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { message: 'agent must be a profile name' })
  agent?: string;

  /** Only runs whose prompt contains this text (case-insensitive) */
  @IsOptional() @IsString() @MinLength(1) @MaxLength(200)
  q?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100)
  limit?: number;

  @IsOptional() @IsString() @MaxLength(512)
  cursor?: string;

  /** Only the thread of this root run: the root and its follow-ups, at any depth */
  @IsOptional() @IsUUID('all')
  thread?: string;
}

/** Query of `GET /api/v1/runs/:id/events`. */
export class RunEventsQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(0)
  after?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1000)
  limit?: number;
}

/** Query of `GET /api/v1/admin/runs`: the same filters, across users. */
export class AdminListRunsQuery extends ListRunsQuery {
  @IsOptional() @IsString() @MinLength(1) @MaxLength(128)
  userId?: string;
}
