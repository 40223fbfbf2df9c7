import { WorkspaceForgeView } from '../forge/forge.view.js';

/** A named workspace: a git repository of the user's, created empty or cloned. */
export class WorkspaceView {
  name: string;
  /** The repository it was cloned from, without credentials; null for an empty workspace. */
  repoUrl: string | null;
  /** The branch, tag or commit checked out after the clone. */
  ref: string | null;
  createdAt: string;
  /** Where its runs' pull requests are opened; null when it names no forge. */
  forge: WorkspaceForgeView | null;
}

export class WorkspaceDetail extends WorkspaceView {
  /** The commit a run started now would branch from. */
  head: string | null;
  /** The checked-out branch; null on a detached HEAD (a tag or commit was checked out). */
  branch: string | null;
}

/** A page of workspaces, newest first. */
export class WorkspacePage {
  items: WorkspaceView[];
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}
