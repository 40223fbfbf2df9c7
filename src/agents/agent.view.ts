import type { AgentProfile } from './agent-profiles.js';

/** An agent profile this server offers. */
export class AgentView {
  /** What `agent` names at submit. */
  name: string;
  executor: AgentProfile['executor'];
  description: string;
  /** The profile a submit without `agent` runs. */
  default: boolean;
}

export class AgentList {
  items: AgentView[];
}
