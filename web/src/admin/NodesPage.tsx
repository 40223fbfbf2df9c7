import { useQuery } from '@tanstack/react-query';
import { describeError, unwrap } from '../api';
import { formatDuration } from '../common/format';
import { useTitle } from '../router';
import { useSession } from '../session';

/** Samples of a Prometheus text exposition: `name{labels} value` lines, comments skipped. */
function parseMetrics(text: string): { name: string; labels: string; value: number }[] {
  return text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      return match ? { name: match[1]!, labels: match[2] ?? '', value: Number(match[3]) } : null;
    })
    .filter((sample): sample is { name: string; labels: string; value: number } => sample !== null);
}

export default function NodesPage() {
  useTitle('Nodes and queue');
  const { client } = useSession();
  // A 503 still carries the report (the server is unhealthy): it is shown, not treated as a failure.
  const health = useQuery({
    queryKey: ['health'],
    queryFn: async () => {
      const answer = await client.GET('/health/detailed');
      return answer.response.status === 503 ? (answer.error as typeof answer.data) : unwrap(answer);
    },
    refetchInterval: 5000,
  });
  const metrics = useQuery({
    queryKey: ['metrics'],
    queryFn: async () => unwrap(await client.GET('/metrics', { parseAs: 'text' })) as unknown as string,
    refetchInterval: 5000,
  });
  const samples = metrics.data ? parseMetrics(metrics.data) : [];
  const finished = samples.filter((sample) => sample.name === 'autocode_runs_finished_total');
  const submitted = samples.filter((sample) => sample.name === 'autocode_runs_submitted_total');

  return (
    <section aria-labelledby="nodes-title">
      <h1 id="nodes-title">Nodes and queue</h1>
      {health.isError && (
        <p className="error" role="alert">
          {describeError(health.error)}
        </p>
      )}
      {health.data && (
        <div className="card">
          <h2>
            Node <span className="mono">{health.data.node}</span> <span className={`badge health-${health.data.status}`}>{health.data.status}</span>
          </h2>
          <dl className="facts">
            <div>
              <dt>Version</dt>
              <dd>{health.data.version}</dd>
            </div>
            <div>
              <dt>Role</dt>
              <dd>{health.data.role}</dd>
            </div>
            <div>
              <dt>Uptime</dt>
              <dd>{formatDuration(health.data.uptimeSeconds * 1000)}</dd>
            </div>
            <div>
              <dt>Running runs</dt>
              <dd>{health.data.activeRuns}</dd>
            </div>
            <div>
              <dt>Queued runs</dt>
              <dd>{health.data.queuedRuns}</dd>
            </div>
            <div>
              <dt>Sandbox</dt>
              <dd>{health.data.sandbox.mode}</dd>
            </div>
          </dl>
          <div className="table-wrap" tabIndex={0} role="region" aria-label="Components">
            <table>
              <thead>
                <tr>
                  <th scope="col">Component</th>
                  <th scope="col">State</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(health.data.components).map(([name, component]) => (
                  <tr key={name}>
                    <td>{name}</td>
                    <td>
                      <span className={`badge health-${component.status}`}>{component.status}</span>
                    </td>
                    <td className="mono small">{JSON.stringify(component.detail)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
      <div className="card">
        <h2>Runs since this node started</h2>
        {metrics.isError && <p className="error">{describeError(metrics.error)}</p>}
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Run counters">
          <table>
            <thead>
              <tr>
                <th scope="col">Counter</th>
                <th scope="col">Labels</th>
                <th scope="col">Value</th>
              </tr>
            </thead>
            <tbody>
              {[...submitted, ...finished].map((sample) => (
                <tr key={sample.name + sample.labels}>
                  <td>{sample.name.replace('autocode_', '')}</td>
                  <td className="mono small">{sample.labels}</td>
                  <td>{sample.value}</td>
                </tr>
              ))}
              {submitted.length + finished.length === 0 && (
                <tr>
                  <td colSpan={3} className="muted">
                    No runs yet.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      </div>
    </section>
  );
}
