import { IsBoolean, IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';

export const SEED_AGENT_TYPES = ['planner', 'coder', 'qa_reviewer', 'qa_fixer'] as const;
export type SeedAgentType = (typeof SEED_AGENT_TYPES)[number];

/** Body of the seed's `POST /api/agents/run`. */
export class SeedRunDto {
  /** A spec folder of the workspace, e.g. `001-add-login`. */
  @IsString() @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, { message: 'spec_id must be a spec folder name' })
  spec_id: string;

  @IsIn(SEED_AGENT_TYPES)
  agent_type: SeedAgentType;

  @IsOptional() @IsString() @MinLength(1) @MaxLength(128)
  model?: string;

  /** Accepted for compatibility; every run's events are kept in full. */
  @IsOptional() @IsBoolean()
  verbose?: boolean;

  /** Ours: the named workspace holding the spec (the seed had one project per server); default `default`. */
  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { message: 'workspace must be a workspace name' })
  workspace?: string;
}

export type SeedTaskStatus = 'running' | 'completed' | 'failed' | 'cancelled' | 'not_found';
