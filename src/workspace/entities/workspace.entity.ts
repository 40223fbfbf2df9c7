import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A named workspace: a git repository under
 * `DATA_DIR/users/<encoded user id>/workspaces/<name>/`.
 *
 * Kept in the database rather than derived from the directory listing: the
 * unique (user, name) index decides a race between two creates of one name on
 * any number of nodes; a submit can lock the row so a delete cannot slip in
 * between "the workspace exists" and "its run is queued"; and a half-finished
 * clone, which lives in a temporary directory until it is complete, is never
 * listed.
 */
@Entity({ name: 'workspaces' })
@Index('uq_workspaces_user_name', ['userId', 'name'], { unique: true })
@Index('idx_workspaces_user_created', ['userId', 'createdAt', 'id'])
export class Workspace {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'user_id', type: 'varchar', length: 128 })
  userId: string;

  @Column({ type: 'varchar', length: 64 })
  name: string;

  /** Where it was cloned from, without credentials; null for an empty workspace. */
  @Column({ name: 'repo_url', type: 'text', nullable: true })
  repoUrl: string | null;

  /** The ref checked out after the clone, as the client named it. */
  @Column({ type: 'varchar', length: 256, nullable: true })
  ref: string | null;

  @Column({ name: 'created_at', type: 'varchar', length: 32 })
  createdAt: string;

  /** The GitHub or GitLab project its runs' pull requests are opened on; null when it names none. */
  @Column({ type: 'simple-json', nullable: true })
  forge: WorkspaceForge | null;

  /**
   * The push credential, encrypted (AES-256-GCM, bound to this row's id). Never loaded unless
   * asked for, and never shown.
   */
  @Column({ type: 'text', nullable: true, select: false })
  credential?: string | null;
}

export const FORGE_KINDS = ['github', 'gitlab'] as const;
export type ForgeKind = (typeof FORGE_KINDS)[number];

/** Where a workspace's pull requests (GitHub) or merge requests (GitLab) are opened. */
export interface WorkspaceForge {
  kind: ForgeKind;
  /** The REST API's base URL; the public service's when the client set none. */
  apiUrl: string;
  /** `owner/repo` on GitHub, the project's full path (`group/subgroup/project`) on GitLab. */
  repository: string;
}
