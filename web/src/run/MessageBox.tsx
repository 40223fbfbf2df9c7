import { isFinalStatus, type Run } from '@autocode/client';
import { useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent, type KeyboardEvent } from 'react';
import { AutocodeError, describeError } from '../api';
import { useSecondsLeft } from '../common/Countdown';
import { navigate } from '../router';
import { useSession } from '../session';

/**
 * Talks to the run again (`POST /runs/:id/messages`): while it runs, the message goes into its live
 * session and shows as a `user_message` event once the agent gets it; once it has finished, the
 * server starts a follow-up run (a new id, with `parentRunId`), and the page moves to it.
 */
export function MessageBox({ run }: { run: Run }) {
  const { client } = useSession();
  const queries = useQueryClient();
  const [prompt, setPrompt] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState<string | null>(null);
  const [retryAt, setRetryAt] = useState<number | null>(null);
  const secondsLeft = useSecondsLeft(retryAt);
  const finished = isFinalStatus(run.status);

  const send = async (event?: FormEvent): Promise<void> => {
    event?.preventDefault();
    if (busy || secondsLeft > 0 || prompt.trim() === '') return;
    setBusy(true);
    setError(null);
    setSent(null);
    try {
      const answer = await client.sendMessage(run.id, prompt);
      setPrompt('');
      if (answer.id !== run.id) {
        await queries.invalidateQueries({ queryKey: ['runs'] });
        navigate(`/runs/${answer.id}`);
        return;
      }
      queries.setQueryData(['run', run.id], answer);
      setSent('Sent. It shows in the events once the agent has it.');
    } catch (caught) {
      setError(describeError(caught));
      if (caught instanceof AutocodeError && caught.status === 429) setRetryAt(Date.now() + (caught.retryAfter ?? 60) * 1000);
    } finally {
      setBusy(false);
    }
  };

  // Ctrl+Enter (⌘+Enter) sends, as in most chat boxes; Enter alone is a new line.
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>): void => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      void send();
    }
  };

  return (
    <form className="message-box" onSubmit={(event) => void send(event)} aria-labelledby="message-title">
      <h2 id="message-title">{finished ? 'Follow up' : 'Send a message'}</h2>
      <div className="field">
        <label htmlFor="run-message">Message</label>
        <textarea
          id="run-message"
          rows={3}
          value={prompt}
          required
          onChange={(event) => setPrompt(event.target.value)}
          onKeyDown={onKeyDown}
          aria-describedby="run-message-hint"
        />
        <p id="run-message-hint" className="hint">
          {finished
            ? 'Starts a follow-up run of the same agent that continues this one, if its profile can (Ctrl+Enter sends).'
            : 'Goes to the agent while it works (Ctrl+Enter sends).'}
        </p>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
          {secondsLeft > 0 && <span className="countdown"> Try again in {secondsLeft} s.</span>}
        </p>
      )}
      {sent && <p role="status">{sent}</p>}
      <button type="submit" className="button primary" disabled={busy || secondsLeft > 0}>
        {busy ? 'Sending…' : secondsLeft > 0 ? `Send (wait ${secondsLeft} s)` : 'Send'}
      </button>
    </form>
  );
}
