import { IsInt, IsObject, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';

export const MAX_PROMPT_CHARS = 100_000;
export const MAX_METADATA_BYTES = 8 * 1024;

/** Body of `POST /api/v1/runs`. */
export class SubmitRunDto {
  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { message: 'agent must be a profile name' })
  agent?: string;

  @IsOptional() @IsString() @MinLength(1) @MaxLength(MAX_PROMPT_CHARS)
  prompt?: string;

  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, { message: 'specId must be a spec folder name' })
  specId?: string;

  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, { message: 'workspace must be a workspace name' })
  workspace?: string;

  @IsOptional() @IsString() @MinLength(1) @MaxLength(128)
  model?: string;

  @IsOptional() @IsInt() @Min(1) @Max(7 * 24 * 3600)
  timeoutSeconds?: number;

  @IsOptional() @IsObject()
  metadata?: Record<string, unknown>;
}
