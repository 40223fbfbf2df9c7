import { useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { anonymousClient, describeError, unwrap } from '../api';
import { navigate, useLocation, useTitle } from '../router';

/** The token is sent once, to open a session; the page keeps no copy of it. */
export function SignInPage() {
  useTitle('Sign in');
  const queries = useQueryClient();
  const { path } = useLocation();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = unwrap(await anonymousClient.POST('/api/v1/session', { body: { token: token.trim() } }));
      setToken('');
      queries.setQueryData(['session'], session);
      if (path === '/sign-in') navigate('/', { replace: true });
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" className="sign-in">
      <form className="card" onSubmit={(event) => void submit(event)}>
        <h1>Auto Code Server</h1>
        <p className="muted">
          Sign in with a token from <code>autocode token create --user NAME</code>, or open a link from{' '}
          <code>autocode token create --user NAME --login-url</code>.
        </p>
        <label htmlFor="token">Token</label>
        <input id="token" name="token" type="password" autoComplete="off" required value={token} onChange={(event) => setToken(event.target.value)} />
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="button primary" disabled={busy || token.trim() === ''}>
          Sign in
        </button>
      </form>
    </main>
  );
}
