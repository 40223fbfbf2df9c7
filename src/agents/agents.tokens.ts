/** Whether this process runs agents: true for the server with ROLE all or worker, false for ROLE=api and the CLI. */
export const RUNS_AGENTS = Symbol('RUNS_AGENTS');
