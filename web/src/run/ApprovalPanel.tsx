import type { PendingApproval, Run } from '@autocode/client';
import { useState } from 'react';
import { AutocodeError, describeError } from '../api';
import { useSecondsLeft } from '../common/Countdown';
import { useSession } from '../session';

function timeLeft(seconds: number): string {
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  if (seconds >= 60) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${seconds} s`;
}

function prettyInput(input: unknown): string {
  try {
    return JSON.stringify(input, null, 2) ?? String(input);
  } catch {
    return String(input);
  }
}

/**
 * The tool call a run waits on (its `pendingApproval`): "Allow" lets it run, "Deny" refuses it and
 * the agent reads the reason as the call's result. `onDecided` gets the run as the server answered;
 * `onClosed` is told when the call was already decided or timed out (409 `approval_closed`).
 */
export function ApprovalPanel({
  runId,
  approval,
  onDecided,
  onClosed,
}: {
  runId: string;
  approval: PendingApproval;
  onDecided: (run: Run) => void;
  onClosed: (detail: string) => void;
}) {
  const { client } = useSession();
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState<'allow' | 'deny' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const secondsLeft = useSecondsLeft(Date.parse(approval.expiresAt));

  const decide = async (decision: 'allow' | 'deny'): Promise<void> => {
    setBusy(decision);
    setError(null);
    try {
      const message = reason.trim();
      onDecided(await client.decideApproval(runId, approval.approvalId, { decision, ...(message ? { message } : {}) }));
    } catch (caught) {
      if (caught instanceof AutocodeError && caught.status === 409) onClosed(caught.detail);
      else setError(describeError(caught));
    } finally {
      setBusy(null);
    }
  };

  return (
    <section className="card approval" aria-labelledby="approval-title">
      <h2 id="approval-title">
        Approval needed: <span className="mono">{approval.tool}</span>
      </h2>
      <p>
        The agent waits to call <strong className="mono">{approval.tool}</strong> with this input.{' '}
        <span className="approval-time">
          {secondsLeft > 0 ? (
            <>
              Time left: <time dateTime={approval.expiresAt}>{timeLeft(secondsLeft)}</time>, then the profile&apos;s timeout rule decides.
            </>
          ) : (
            "Time is up: the profile's timeout rule decides."
          )}
        </span>
      </p>
      <pre className="approval-input" tabIndex={0} role="region" aria-label={`${approval.tool} input`}>
        {prettyInput(approval.input)}
      </pre>
      <div className="field">
        <label htmlFor="approval-reason">Reason</label>
        <input id="approval-reason" type="text" value={reason} onChange={(event) => setReason(event.target.value)} aria-describedby="approval-reason-hint" maxLength={10_000} />
        <p id="approval-reason-hint" className="hint">
          Optional. Recorded with the decision; on "Deny" the agent reads it.
        </p>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="actions">
        <button type="button" className="button primary" onClick={() => void decide('allow')} disabled={busy !== null}>
          {busy === 'allow' ? 'Allowing…' : 'Allow'}
        </button>
        <button type="button" className="button danger" onClick={() => void decide('deny')} disabled={busy !== null}>
          {busy === 'deny' ? 'Denying…' : 'Deny'}
        </button>
      </div>
    </section>
  );
}
