import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { describeError, unwrap } from '../api';
import { formatTime } from '../common/format';
import { useTitle } from '../router';
import { useSession } from '../session';

export default function WorkspacesPage() {
  useTitle('Workspaces');
  const { client } = useSession();
  const queries = useQueryClient();
  const [name, setName] = useState('');
  const [repoUrl, setRepoUrl] = useState('');
  const [ref, setRef] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [key, setKey] = useState(() => crypto.randomUUID());
  const [open, setOpen] = useState<string | null>(null);
  const workspaces = useQuery({ queryKey: ['workspaces'], queryFn: async () => unwrap(await client.GET('/api/v1/workspaces', { params: { query: { limit: 100 } } })) });

  const create = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      unwrap(
        await client.POST('/api/v1/workspaces', {
          body: { name, ...(repoUrl ? { repoUrl } : {}), ...(ref ? { ref } : {}) },
          params: { header: { 'Idempotency-Key': key } },
        }),
      );
      setName('');
      setRepoUrl('');
      setRef('');
      setKey(crypto.randomUUID());
      await queries.invalidateQueries({ queryKey: ['workspaces'] });
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="workspaces-title">
      <h1 id="workspaces-title">Workspaces</h1>
      <form className="card" aria-label="New workspace" onSubmit={(event) => void create(event)}>
        <h2>New workspace</h2>
        <div className="row">
          <div className="field">
            <label htmlFor="ws-name">Name</label>
            <input id="ws-name" required value={name} onChange={(event) => setName(event.target.value)} pattern="[A-Za-z0-9][A-Za-z0-9._\-]{0,63}" />
          </div>
          <div className="field grow">
            <label htmlFor="ws-url">Repository URL</label>
            <input id="ws-url" type="url" placeholder="https://github.com/org/repo.git (empty: an empty workspace)" value={repoUrl} onChange={(event) => setRepoUrl(event.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="ws-ref">Branch, tag or commit</label>
            <input id="ws-ref" value={ref} onChange={(event) => setRef(event.target.value)} />
          </div>
        </div>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create workspace'}
        </button>
      </form>
      {workspaces.isError && (
        <p className="error" role="alert">
          {describeError(workspaces.error)}
        </p>
      )}
      <ul className="list">
        {workspaces.data?.items.map((workspace) => (
          <li key={workspace.name} className="card">
            <div className="list-head">
              <h2 className="mono">{workspace.name}</h2>
              <button type="button" className="button subtle" aria-expanded={open === workspace.name} onClick={() => setOpen(open === workspace.name ? null : workspace.name)}>
                {open === workspace.name ? 'Hide specs' : 'Show specs'}
                <span className="visually-hidden"> of {workspace.name}</span>
              </button>
            </div>
            <p className="muted">
              {workspace.repoUrl ?? 'empty workspace'}
              {workspace.ref ? ` @ ${workspace.ref}` : ''} · created {formatTime(workspace.createdAt)}
            </p>
            {open === workspace.name && <Specs name={workspace.name} />}
          </li>
        ))}
        {workspaces.data?.items.length === 0 && <li className="muted">No workspaces yet.</li>}
      </ul>
    </section>
  );
}

function Specs({ name }: { name: string }) {
  const { client } = useSession();
  const specs = useQuery({ queryKey: ['specs', name], queryFn: async () => unwrap(await client.GET('/api/v1/workspaces/{name}/specs', { params: { path: { name } } })) });
  if (specs.isPending) return <p role="status">Loading specs…</p>;
  if (specs.isError) return <p className="error">{describeError(specs.error)}</p>;
  if (specs.data.items.length === 0) return <p className="muted">No specs in this workspace.</p>;
  return (
    <ul className="specs">
      {specs.data.items.map((spec) => (
        <li key={spec.id}>
          <span className="mono">{spec.id}</span> — {spec.title}
        </li>
      ))}
    </ul>
  );
}
