import type { RunStatus } from '@autocode/client';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { describeError, unwrap } from '../api';
import { formatDuration, formatTime, RUN_STATUSES, StatusBadge } from '../common/format';
import { Link, useTitle } from '../router';
import { useSession } from '../session';
import { NewRunForm } from './NewRunForm';

const PAGE_SIZE = 20;
/** How often the table asks again, so statuses change without a reload. */
const LIVE_INTERVAL_MS = 2000;

export function RunsPage() {
  useTitle('Runs');
  const { client } = useSession();
  const [status, setStatus] = useState<RunStatus | ''>('');
  const [agent, setAgent] = useState('');
  const [search, setSearch] = useState('');
  const [q, setQ] = useState('');
  // The cursors of the pages before this one: "Previous" pops one.
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors.at(-1);

  // Searching waits for a pause in typing.
  useEffect(() => {
    const timer = window.setTimeout(() => setQ(search.trim()), 300);
    return () => window.clearTimeout(timer);
  }, [search]);
  useEffect(() => setCursors([undefined]), [status, agent, q]);

  const agents = useQuery({ queryKey: ['agents'], queryFn: async () => unwrap(await client.GET('/api/v1/agents')) });
  const runs = useQuery({
    queryKey: ['runs', { status, agent, q, cursor }],
    queryFn: async ({ signal }) =>
      unwrap(
        await client.GET('/api/v1/runs', {
          params: { query: { limit: PAGE_SIZE, ...(status ? { status } : {}), ...(agent ? { agent } : {}), ...(q ? { q } : {}), ...(cursor ? { cursor } : {}) } },
          signal,
        }),
      ),
    refetchInterval: LIVE_INTERVAL_MS,
    placeholderData: keepPreviousData,
  });

  return (
    <section aria-labelledby="runs-title">
      <div className="page-head">
        <h1 id="runs-title">Runs</h1>
      </div>
      <NewRunForm agents={agents.data?.items ?? []} />
      <form className="filters" role="search" aria-label="Filter runs" onSubmit={(event) => event.preventDefault()}>
        <div className="field">
          <label htmlFor="filter-status">Status</label>
          <select id="filter-status" value={status} onChange={(event) => setStatus(event.target.value as RunStatus | '')}>
            <option value="">any</option>
            {RUN_STATUSES.map((value) => (
              <option key={value} value={value}>
                {value.replace('_', ' ')}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-agent">Agent filter</label>
          <select id="filter-agent" value={agent} onChange={(event) => setAgent(event.target.value)}>
            <option value="">any</option>
            {(agents.data?.items ?? []).map((profile) => (
              <option key={profile.name} value={profile.name}>
                {profile.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field grow">
          <label htmlFor="filter-q">Search prompts</label>
          <input id="filter-q" type="search" value={search} onChange={(event) => setSearch(event.target.value)} />
        </div>
      </form>
      {runs.isError && (
        <p className="error" role="alert">
          {describeError(runs.error)}
        </p>
      )}
      <div className="table-wrap" tabIndex={0} role="region" aria-label="Runs table">
        <table className="runs">
          <thead>
            <tr>
              <th scope="col">Status</th>
              <th scope="col">Prompt</th>
              <th scope="col">Agent</th>
              <th scope="col">Created</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {runs.data?.items.map((run) => (
              <tr key={run.id}>
                <td>
                  <StatusBadge status={run.status} />
                </td>
                <td className="prompt">
                  <Link href={`/runs/${run.id}`}>{run.prompt.length > 120 ? run.prompt.slice(0, 120) + '…' : run.prompt || run.specId || run.id}</Link>
                </td>
                <td>{run.agent}</td>
                <td>{formatTime(run.createdAt)}</td>
                <td>{formatDuration(run.durationMs)}</td>
              </tr>
            ))}
            {runs.data?.items.length === 0 && (
              <tr>
                <td colSpan={5} className="muted">
                  No runs{status || agent || q ? ' match these filters' : ' yet'}.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <nav className="pager" aria-label="Pages of runs">
        <button type="button" className="button" disabled={cursors.length < 2} onClick={() => setCursors((list) => list.slice(0, -1))}>
          Previous page
        </button>
        <button
          type="button"
          className="button"
          disabled={!runs.data?.nextCursor}
          onClick={() => runs.data?.nextCursor && setCursors((list) => [...list, runs.data.nextCursor ?? undefined])}
        >
          Next page
        </button>
      </nav>
    </section>
  );
}
