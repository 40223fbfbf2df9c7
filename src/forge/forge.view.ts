import { ApiProperty } from '@nestjs/swagger';
import { FORGE_KINDS, type ForgeKind } from '../workspace/entities/workspace.entity.js';

/** Where a workspace's runs' pull requests are opened. */
export class WorkspaceForgeView {
  @ApiProperty({ enum: FORGE_KINDS, enumName: 'ForgeKind' })
  kind: ForgeKind;
  /** The REST API's base URL. */
  apiUrl: string;
  /** `owner/repo` on GitHub, the project's full path on GitLab. */
  repository: string;
}

/** Whether a workspace holds a push credential; the token itself is never shown. */
export class WorkspaceCredentialView {
  kind: 'token';
  /** The user name git sends with the token. */
  username: string;
  updatedAt: string;
}

/** The answer to `POST /api/v1/runs/:id/push`. */
export class PushResultView {
  /** The branch on the remote: `autocode/<run id>`. */
  branch: string;
  /** The commit pushed, the tip of the run's branch. */
  commit: string;
  /** The repository pushed to (the workspace's `repoUrl`), without credentials. */
  remote: string;
}
