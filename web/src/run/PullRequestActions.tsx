import type { Run } from '@autocode/client';
import { useState } from 'react';
import { describeError } from '../api';
import { useSession } from '../session';

/**
 * "Push" and "Open pull request" for a finished run that changed its workspace: the server pushes
 * the run's branch with the workspace's stored credential and opens the pull request (GitHub) or
 * merge request (GitLab) on the workspace's forge; the page never sees the credential.
 */
export function PullRequestActions({ run, onChange }: { run: Run; onChange: () => void }) {
  const { client } = useSession();
  const [busy, setBusy] = useState<'push' | 'pull-request' | null>(null);
  const [pushed, setPushed] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const act = async (what: 'push' | 'pull-request'): Promise<void> => {
    setBusy(what);
    setError(null);
    try {
      if (what === 'push') {
        const result = await client.pushRun(run.id);
        setPushed(`Pushed ${result.branch} to ${result.remote}`);
      } else {
        await client.openPullRequest(run.id);
        onChange();
      }
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(null);
    }
  };

  if (run.pullRequest) {
    return (
      <p>
        <a href={run.pullRequest.url} target="_blank" rel="noreferrer">
          {run.pullRequest.draft ? 'Draft pull request' : 'Pull request'} #{run.pullRequest.number}
        </a>{' '}
        <span className="muted">
          {run.pullRequest.branch} → {run.pullRequest.base}
        </span>
      </p>
    );
  }
  return (
    <div className="pull-request-actions">
      <div className="actions">
        <button type="button" className="button" onClick={() => void act('push')} disabled={busy !== null}>
          {busy === 'push' ? 'Pushing…' : 'Push'}
        </button>
        <button type="button" className="button primary" onClick={() => void act('pull-request')} disabled={busy !== null}>
          {busy === 'pull-request' ? 'Opening…' : 'Open pull request'}
        </button>
      </div>
      {pushed && <p role="status">{pushed}</p>}
      {(error ?? run.pullRequestError) && (
        <p className="error" role="alert">
          {error ?? `${run.pullRequestError!.code}: ${run.pullRequestError!.message}`}
        </p>
      )}
    </div>
  );
}
