import { isFinalStatus, type Run } from '@autocode/client';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useCallback, useState } from 'react';
import { AutocodeError, describeError } from '../api';
import { formatDuration, formatTime, StatusBadge } from '../common/format';
import { Link, useTitle } from '../router';
import { useSession } from '../session';
import { ApprovalPanel } from './ApprovalPanel';
import { EventTimeline } from './EventTimeline';
import { LogView } from './LogView';
import { MessageBox } from './MessageBox';
import { PullRequestActions } from './PullRequestActions';
import { useRunEvents } from './useRunEvents';

const DiffView = lazy(() => import('./DiffView'));

export default function RunPage({ id }: { id: string }) {
  useTitle(`Run ${id.slice(0, 8)}`);
  const { client } = useSession();
  const queries = useQueryClient();
  const [cancelError, setCancelError] = useState<string | null>(null);
  const [approvalNotice, setApprovalNotice] = useState<string | null>(null);
  const run = useQuery({ queryKey: ['run', id], queryFn: ({ signal }) => client.getRun(id, { signal }), retry: false });
  const refresh = useCallback(() => void queries.invalidateQueries({ queryKey: ['run', id] }), [queries, id]);
  const events = useRunEvents(client, id, refresh);
  const finished = isFinalStatus(run.data?.status);
  const diff = useQuery({
    queryKey: ['diff', id],
    enabled: finished && run.data?.workspace !== null,
    queryFn: async ({ signal }) => {
      try {
        return await client.getDiff(id, { signal });
      } catch (error) {
        if (error instanceof AutocodeError && error.status === 404) return null;
        throw error;
      }
    },
  });

  if (run.isPending) return <p role="status">Loading…</p>;
  if (run.isError) {
    return (
      <section>
        <h1>Run not found</h1>
        <p className="error" role="alert">
          {describeError(run.error)}
        </p>
        <Link href="/">Back to the runs</Link>
      </section>
    );
  }
  const data = run.data;
  const cancel = async (): Promise<void> => {
    setCancelError(null);
    try {
      await client.cancelRun(id);
      refresh();
    } catch (error) {
      setCancelError(describeError(error));
    }
  };
  const result = data.result;
  const decided = (answer: Run): void => {
    setApprovalNotice(null);
    queries.setQueryData(['run', id], answer);
  };
  const closed = (detail: string): void => {
    setApprovalNotice(detail);
    refresh();
  };

  return (
    <article aria-labelledby="run-title">
      <div className="page-head">
        <h1 id="run-title">
          Run <span className="mono">{id.slice(0, 8)}</span> <StatusBadge status={data.status} />
        </h1>
        <div className="actions">
          {!finished && (
            <button type="button" className="button danger" onClick={() => void cancel()} disabled={data.cancelRequested}>
              {data.cancelRequested ? 'Cancelling…' : 'Cancel'}
            </button>
          )}
          <a className="button" href={`/api/v1/runs/${id}/logs`} download={`run-${id}.log`}>
            Download log
          </a>
          {finished && diff.data && (
            <a className="button" href={`/api/v1/runs/${id}/diff`} download={`run-${id}.diff`}>
              Download diff
            </a>
          )}
        </div>
      </div>
      {cancelError && (
        <p className="error" role="alert">
          {cancelError}
        </p>
      )}
      {data.pendingApproval && <ApprovalPanel key={data.pendingApproval.approvalId} runId={id} approval={data.pendingApproval} onDecided={decided} onClosed={closed} />}
      {approvalNotice && (
        <p className="error" role="alert">
          {approvalNotice}
        </p>
      )}
      <p className="prompt-text">{data.prompt || (data.specId ? `spec ${data.specId}` : '')}</p>
      <dl className="facts">
        <div>
          <dt>Agent</dt>
          <dd>{data.agent}</dd>
        </div>
        {data.parentRunId && (
          <div>
            <dt>Thread</dt>
            <dd>
              <Link href={`/runs/${data.parentRunId}`}>Follows up {data.parentRunId.slice(0, 8)}</Link>
            </dd>
          </div>
        )}
        <div>
          <dt>Workspace</dt>
          <dd>{data.workspace ?? 'fresh directory'}</dd>
        </div>
        <div>
          <dt>Node</dt>
          <dd>{data.node ?? '—'}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{formatTime(data.createdAt)}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{formatTime(data.startedAt)}</dd>
        </div>
        <div>
          <dt>Finished</dt>
          <dd>{formatTime(data.finishedAt)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{formatDuration(data.durationMs)}</dd>
        </div>
        <div>
          <dt>Exit code</dt>
          <dd>{data.exitCode ?? '—'}</dd>
        </div>
        <div>
          <dt>Cost</dt>
          <dd>{result?.costUsd !== undefined && result?.costUsd !== null ? `$${result.costUsd.toFixed(4)}` : '—'}</dd>
        </div>
        <div>
          <dt>Tokens in / out</dt>
          <dd>{result?.inputTokens !== undefined && result?.inputTokens !== null ? `${result.inputTokens} / ${result.outputTokens ?? 0}` : '—'}</dd>
        </div>
      </dl>
      {data.error && (
        <p className="error" role="alert">
          {data.error.code}: {data.error.message}
        </p>
      )}
      <section aria-labelledby="log-title">
        <h2 id="log-title">Log</h2>
        {events.error && (
          <p className="error" role="alert">
            The live log stopped: {events.error}
          </p>
        )}
        <LogView store={events.store} version={events.version} />
      </section>
      <section aria-labelledby="events-title">
        <h2 id="events-title">Events</h2>
        <EventTimeline events={events.store.timeline} />
      </section>
      <MessageBox run={data} />
      <section aria-labelledby="diff-title">
        <h2 id="diff-title">Diff</h2>
        {!finished ? (
          <p className="muted">The diff is ready once the run has finished.</p>
        ) : data.workspace === null ? (
          <p className="muted">Runs in a fresh directory have no diff; run in a named workspace to get one.</p>
        ) : diff.isError ? (
          <p className="error" role="alert">
            {describeError(diff.error)}
          </p>
        ) : diff.data === undefined ? (
          <p role="status">Loading the diff…</p>
        ) : diff.data === null ? (
          <p className="muted">No diff was recorded for this run.</p>
        ) : (
          <>
            {diff.data !== '' && <PullRequestActions run={data} onChange={refresh} />}
            <Suspense fallback={<p role="status">Loading the diff…</p>}>
              <DiffView text={diff.data} />
            </Suspense>
          </>
        )}
      </section>
    </article>
  );
}
