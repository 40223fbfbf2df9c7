import type { components, SubmitRunBody } from '@autocode/client';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { AutocodeError, describeError, unwrap } from '../api';
import { useSecondsLeft } from '../common/Countdown';
import { navigate } from '../router';
import { useSession } from '../session';

type Agent = components['schemas']['AgentView'];

/**
 * Submits a run with an `Idempotency-Key`: one key per intended run, kept while the same form is
 * submitted again (after a dropped connection, the server answers the first run instead of making
 * a second), and replaced once the form changes or a run was made.
 */
export function NewRunForm({ agents }: { agents: Agent[] }) {
  const { client } = useSession();
  const queries = useQueryClient();
  const [agent, setAgent] = useState('');
  const [prompt, setPrompt] = useState('');
  const [workspace, setWorkspace] = useState('');
  const [specId, setSpecId] = useState('');
  const [timeout, setTimeoutSeconds] = useState('');
  const [metadata, setMetadata] = useState('');
  const [key, setKey] = useState(() => crypto.randomUUID());
  const [error, setError] = useState<string | null>(null);
  const [retryAt, setRetryAt] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const secondsLeft = useSecondsLeft(retryAt);

  const workspaces = useQuery({ queryKey: ['workspaces'], queryFn: async () => unwrap(await client.GET('/api/v1/workspaces', { params: { query: { limit: 100 } } })) });
  const specs = useQuery({
    queryKey: ['specs', workspace],
    enabled: workspace !== '',
    queryFn: async () => unwrap(await client.GET('/api/v1/workspaces/{name}/specs', { params: { path: { name: workspace } } })),
  });

  const edited = <T,>(set: (value: T) => void) => (value: T) => {
    set(value);
    setKey(crypto.randomUUID());
  };
  const chosen = agents.find((profile) => profile.name === agent) ?? agents.find((profile) => profile.default);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setError(null);
    let parsedMetadata: Record<string, unknown> | undefined;
    if (metadata.trim()) {
      try {
        parsedMetadata = JSON.parse(metadata) as Record<string, unknown>;
      } catch {
        setError('Metadata must be a JSON object, such as {"ticket": "ABC-1"}.');
        return;
      }
    }
    const body: SubmitRunBody = {
      ...(agent ? { agent } : {}),
      ...(specId ? { specId } : { prompt }),
      ...(workspace ? { workspace } : {}),
      ...(timeout ? { timeoutSeconds: Number(timeout) } : {}),
      ...(parsedMetadata ? { metadata: parsedMetadata } : {}),
    };
    setBusy(true);
    try {
      const run = await client.submitRun(body, { idempotencyKey: key });
      setKey(crypto.randomUUID());
      setPrompt('');
      await queries.invalidateQueries({ queryKey: ['runs'] });
      navigate(`/runs/${run.id}`);
    } catch (caught) {
      setError(describeError(caught));
      if (caught instanceof AutocodeError && caught.status === 429) {
        setRetryAt(Date.now() + (caught.retryAfter ?? 60) * 1000);
        // A refused submit made no run: the next attempt is a new request.
        setKey(crypto.randomUUID());
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <details className="card new-run">
      <summary>New run</summary>
      <form onSubmit={(event) => void submit(event)} aria-label="New run">
        <div className="field">
          <label htmlFor="run-agent">Agent</label>
          <select id="run-agent" value={agent} onChange={(event) => edited(setAgent)(event.target.value)} aria-describedby="run-agent-description">
            <option value="">default{agents.find((profile) => profile.default) ? ` (${agents.find((profile) => profile.default)!.name})` : ''}</option>
            {agents.map((profile) => (
              <option key={profile.name} value={profile.name}>
                {profile.name}
                {profile.description ? ` — ${profile.description}` : ''}
              </option>
            ))}
          </select>
          <p id="run-agent-description" className="hint">
            {chosen?.description || 'No description.'}
          </p>
        </div>
        <div className="field">
          <label htmlFor="run-prompt">Prompt</label>
          <textarea
            id="run-prompt"
            rows={4}
            value={prompt}
            required={!specId}
            disabled={specId !== ''}
            onChange={(event) => edited(setPrompt)(event.target.value)}
          />
        </div>
        <div className="row">
          <div className="field">
            <label htmlFor="run-workspace">Workspace</label>
            <select
              id="run-workspace"
              value={workspace}
              onChange={(event) => {
                edited(setWorkspace)(event.target.value);
                setSpecId('');
              }}
            >
              <option value="">a fresh empty directory</option>
              {(workspaces.data?.items ?? []).map((item) => (
                <option key={item.name} value={item.name}>
                  {item.name}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="run-spec">Spec</label>
            <select id="run-spec" value={specId} disabled={workspace === ''} onChange={(event) => edited(setSpecId)(event.target.value)}>
              <option value="">none: use the prompt</option>
              {(specs.data?.items ?? []).map((spec) => (
                <option key={spec.id} value={spec.id}>
                  {spec.id} — {spec.title}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="run-timeout">Timeout (seconds)</label>
            <input id="run-timeout" type="number" min={1} inputMode="numeric" value={timeout} onChange={(event) => edited(setTimeoutSeconds)(event.target.value)} />
          </div>
        </div>
        <div className="field">
          <label htmlFor="run-metadata">Metadata (JSON)</label>
          <textarea id="run-metadata" rows={2} placeholder='{"ticket": "ABC-1"}' value={metadata} onChange={(event) => edited(setMetadata)(event.target.value)} />
        </div>
        {error && (
          <p className="error" role="alert">
            {error}
            {secondsLeft > 0 && <span className="countdown"> Try again in {secondsLeft} s.</span>}
          </p>
        )}
        <button type="submit" className="button primary" disabled={busy || secondsLeft > 0}>
          {secondsLeft > 0 ? `Submit (wait ${secondsLeft} s)` : 'Submit run'}
        </button>
      </form>
    </details>
  );
}
