import type { AgentProfile } from './agent-profiles.js';

/** An agent profile this server offers. */
export class AgentView {
  /** What `agent` names at submit. */
  name: string;
  executor: AgentProfile['executor'];
  description: string;
  /** The profile a submit without `agent` runs. */
  default: boolean;
  /** Whether its runs are sandboxed on this node (the node has a sandbox and the profile has not opted out). */
  sandboxed: boolean;
  /** Whether its runs may use the network. */
  network: boolean;
}

/** How this node isolates agents. */
export class SandboxView {
  /** What `SANDBOX` asked for. */
  requested: 'auto' | 'bwrap' | 'none';
  /** What agents run in here: `bwrap` (bubblewrap) or `none`. */
  mode: 'bwrap' | 'none';
  /** The host uid agents run as, in a sandbox or not: `SANDBOX_UID` when the server runs as root, else the server's own. */
  hostUid: number;
  /** Whether that is the server's own user: then an agent without a sandbox can read whatever the server can (its secret, its database). */
  serverUser: boolean;
  /** Why agents are not isolated, when they are not. */
  warning: string | null;
}

export class AgentList {
  items: AgentView[];
  sandbox: SandboxView;
}
