import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';
import { WorkspaceForgeDto } from '../../forge/dto/forge.dto.js';
import { MAX_PROMPT_BYTES } from '../../runs/dto/submit-run.dto.js';
import { MaxUtf8Bytes, MultiLineText } from '../../common/text-input.js';
import { SPEC_ID } from '../specs.service.js';
import { WORKSPACE_NAME } from '../workspaces.service.js';

const NAME_MESSAGE = 'name must be 1-64 letters, digits, dots, dashes or underscores, starting with a letter or digit';

/** Body of `POST /api/v1/workspaces`. The URL's scheme and the ref are checked by the service. */
export class CreateWorkspaceDto {
  @IsString() @Matches(WORKSPACE_NAME, { message: NAME_MESSAGE })
  name: string;

  @IsOptional() @IsString() @MinLength(1) @MaxLength(2048)
  repoUrl?: string;

  @IsOptional() @IsString() @MinLength(1) @MaxLength(200)
  ref?: string;

  /** The GitHub or GitLab project the repository lives in, for opening its runs' pull requests. */
  @IsOptional() @ValidateNested() @Type(() => WorkspaceForgeDto)
  forge?: WorkspaceForgeDto;
}

export class ListWorkspacesQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100)
  limit?: number;

  @IsOptional() @IsString() @MaxLength(512)
  cursor?: string;
}

export class WorkspaceParams {
  @IsString() @Matches(WORKSPACE_NAME, { message: NAME_MESSAGE })
  name: string;
}

export class SpecParams extends WorkspaceParams {
  @IsString() @Matches(SPEC_ID, { message: 'specId must be a spec folder name, such as 001-add-login' })
  specId: string;
}

/** Body of `POST /api/v1/workspaces/:name/specs`. spec.md is `# <title>`, a blank line, then the body. */
export class CreateSpecDto {
  @IsString() @MinLength(1) @MaxLength(200) @Matches(/^[^\r\n]*\S[^\r\n]*$/, { message: 'title must be one non-empty line' })
  title: string;

  /**
   * The spec's text: at most 98,976 bytes of UTF-8, so that spec.md, its heading of up to 600 bytes included,
   * fits in a prompt; tab, LF and CR are its only control characters.
   */
  @IsString() @MultiLineText() @MinLength(1) @MaxUtf8Bytes(MAX_PROMPT_BYTES - 1024)
  body: string;
}
