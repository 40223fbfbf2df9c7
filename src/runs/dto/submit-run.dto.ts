import { Type } from 'class-transformer';
import { Equals, IsBoolean, IsInt, IsNumber, IsObject, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';
import { GIT_BRANCH, GIT_BRANCH_MESSAGE } from '../../common/git-names.js';
import { MaxUtf8Bytes, MultiLineText } from '../../common/text-input.js';

/**
 * A prompt's largest size in UTF-8. An agent may get it as one argv element and in
 * AUTOCODE_PROMPT at once: Linux allows 128 KiB per string (MAX_ARG_STRLEN) and
 * about 2 MB for argv and the environment together, which this leaves room under.
 */
export const MAX_PROMPT_BYTES = 100_000;
export const MAX_METADATA_BYTES = 8 * 1024;

/** `pullRequest` of a submit: open one for the run's branch once it succeeds with changes. */
export class SubmitPullRequestDto {
  /** Must be true: open a pull request (GitHub) or merge request (GitLab) when the run succeeds with changes. */
  @Equals(true, { message: 'pullRequest.open must be true' })
  open: boolean;

  @IsOptional() @IsBoolean()
  draft?: boolean;

  /** The branch to merge into; default: the branch the workspace has checked out. */
  @IsOptional() @IsString() @Matches(GIT_BRANCH, { message: GIT_BRANCH_MESSAGE })
  base?: string;
}

/** Body of `POST /api/v1/runs`. */
export class SubmitRunDto {
  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { message: 'agent must be a profile name' })
  agent?: string;

  /** What the agent is to do: at most 100,000 bytes of UTF-8, not only whitespace; tab, LF and CR are its only control characters. */
  @IsOptional() @IsString() @MultiLineText() @Matches(/\S/, { message: 'prompt must not be empty or only whitespace' })
  @MaxUtf8Bytes(MAX_PROMPT_BYTES)
  prompt?: string;

  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, { message: 'specId must be a spec folder name' })
  specId?: string;

  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, { message: 'workspace must be a workspace name' })
  workspace?: string;

  @IsOptional() @IsString() @MinLength(1) @MaxLength(128)
  model?: string;

  @IsOptional() @IsInt() @Min(1) @Max(7 * 24 * 3600)
  timeoutSeconds?: number;

  /** The most the run may spend in USD, as the agent estimates it (claude runs stop there, `budget_exceeded`): at least 0.01, at most the user's daily budget (else 400 `budget_exceeds_quota`). It starts with the smaller of this and what is left of today's budget. */
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0.01) @Max(1_000_000)
  maxBudgetUsd?: number;

  @IsOptional() @IsObject() @MultiLineText()
  metadata?: Record<string, unknown>;

  /** Push the run's branch and open a pull request once it succeeds with changes (a named workspace with a forge). */
  @IsOptional() @ValidateNested() @Type(() => SubmitPullRequestDto)
  pullRequest?: SubmitPullRequestDto;
}
