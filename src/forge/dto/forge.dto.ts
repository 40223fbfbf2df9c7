import { IsBoolean, IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { GIT_BRANCH, GIT_BRANCH_MESSAGE } from '../../common/git-names.js';
import { MultiLineText } from '../../common/text-input.js';
import { FORGE_KINDS, type ForgeKind } from '../../workspace/entities/workspace.entity.js';

/** A project path on a forge: `owner/repo` on GitHub, `group/subgroup/project` on GitLab. */
export const FORGE_REPOSITORY = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+){1,20}$/;

/** `forge` of `POST /api/v1/workspaces`: where the workspace's runs' pull requests are opened. */
export class WorkspaceForgeDto {
  @IsIn(FORGE_KINDS)
  kind: ForgeKind;

  /** The REST API's base URL, for GitHub Enterprise (`https://github.example.com/api/v3`) or a self-hosted GitLab (`https://gitlab.example.com/api/v4`); default: github.com's or gitlab.com's. */
  @IsOptional() @IsString() @MinLength(1) @MaxLength(2048)
  apiUrl?: string;

  /** `owner/repo` on GitHub; the project's full path (`group/subgroup/project`) on GitLab. */
  @IsString() @MaxLength(512) @Matches(FORGE_REPOSITORY, { message: 'repository must be a project path such as owner/repo or group/subgroup/project' })
  repository: string;
}

/** Body of `PUT /api/v1/workspaces/:name/credentials`. */
export class PutCredentialDto {
  @IsIn(['token'])
  kind: 'token';

  /** An access token that may push to the repository and open pull requests (GitHub) or merge requests (GitLab). Stored encrypted, never shown again. */
  @IsString() @MinLength(1) @MaxLength(4096) @Matches(/^[\x21-\x7e]+$/, { message: 'token must be printable ASCII without spaces' })
  token: string;

  /** The user name git sends with the token over HTTP; default `x-access-token` (GitHub), `oauth2` (GitLab), else `autocode`. */
  @IsOptional() @IsString() @MinLength(1) @MaxLength(256) @Matches(/^[\x21-\x39\x3b-\x7e]+$/, { message: 'username must be printable ASCII without spaces or ":"' })
  username?: string;
}

/** Body of `POST /api/v1/runs/:id/pull-request`. */
export class OpenPullRequestDto {
  /** Default: the prompt's first line. */
  @IsOptional() @IsString() @MinLength(1) @MaxLength(250) @Matches(/^[^\r\n]*\S[^\r\n]*$/, { message: 'title must be one non-empty line' })
  title?: string;

  /** Default: a summary of the run (prompt, agent, result, cost) with a link back to it. */
  @IsOptional() @IsString() @MultiLineText() @MaxLength(60_000)
  body?: string;

  /** The branch to merge into; default: the one given at submit, else the branch the workspace has checked out. */
  @IsOptional() @IsString() @Matches(GIT_BRANCH, { message: GIT_BRANCH_MESSAGE })
  base?: string;

  @IsOptional() @IsBoolean()
  draft?: boolean;
}
