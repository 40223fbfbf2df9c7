/** A spec of a workspace: `.auto-claude/specs/<id>/spec.md`. */
export class SpecView {
  /** The spec folder, e.g. `001-add-login`. */
  id: string;
  title: string;
  /** spec.md, relative to the workspace. */
  path: string;
}

export class SpecDetail extends SpecView {
  /** The spec's text after its title heading. */
  body: string;
  /** The whole spec.md: what a run with this spec gets as its prompt. */
  content: string;
}

/** A workspace's specs, all at once, in the order of their numbers. */
export class SpecPage {
  items: SpecView[];
  /** Always null: the specs come in one page. */
  nextCursor: string | null;
}
