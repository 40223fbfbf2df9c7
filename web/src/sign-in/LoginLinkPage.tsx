import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { anonymousClient, describeError, unwrap } from '../api';
import { Link, navigate, useTitle } from '../router';

/** `/login#code=…`: redeems a one-time link. The code is in the fragment, which no request and no Referer carries. */
export function LoginLinkPage() {
  useTitle('Signing in');
  const queries = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    const code = new URLSearchParams(window.location.hash.slice(1)).get('code');
    // The code is used once: off the address bar and the history right away.
    window.history.replaceState(null, '', '/login');
    if (!code) {
      setError('This link has no sign-in code.');
      return;
    }
    void (async () => {
      try {
        const session = unwrap(await anonymousClient.POST('/api/v1/session/login-link', { body: { code } }));
        queries.setQueryData(['session'], session);
        navigate('/', { replace: true });
      } catch (caught) {
        setError(describeError(caught));
      }
    })();
  }, [queries]);

  return (
    <main id="main" className="sign-in">
      <div className="card">
        <h1>Signing in</h1>
        {error ? (
          <>
            <p className="error" role="alert">
              {error}
            </p>
            <Link href="/sign-in">Sign in with a token</Link>
          </>
        ) : (
          <p role="status">Opening your session…</p>
        )}
      </div>
    </main>
  );
}
