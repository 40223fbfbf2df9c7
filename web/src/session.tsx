import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useContext, useMemo, type ReactNode } from 'react';
import { anonymousClient, sessionClient, unwrap, AutocodeError, type Session } from './api';
import type { AutocodeClient } from '@autocode/client';

interface SignedIn {
  session: Session;
  client: AutocodeClient;
  isAdmin: boolean;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SignedIn | null>(null);

/** The session of this browser, or null when it is not signed in (401). */
async function fetchSession(): Promise<Session | null> {
  try {
    return unwrap(await anonymousClient.GET('/api/v1/session'));
  } catch (error) {
    if (error instanceof AutocodeError && error.status === 401) return null;
    throw error;
  }
}

/** The session query; off while a sign-in link is redeemed, whose answer then sets it (an earlier 401 must not overwrite it). */
export function useSessionQuery(enabled: boolean) {
  return useQuery({ queryKey: ['session'], queryFn: fetchSession, staleTime: Infinity, retry: false, enabled });
}

/** Provides the signed-in session and its client to the pages. */
export function SessionProvider({ session, children }: { session: Session; children: ReactNode }) {
  const queries = useQueryClient();
  const value = useMemo<SignedIn>(() => {
    const client = sessionClient(session);
    return {
      session,
      client,
      isAdmin: session.role === 'admin',
      async signOut() {
        await client.DELETE('/api/v1/session');
        // Signed out: the sign-in page shows, and nothing of this user stays cached for the next one.
        queries.setQueryData(['session'], null);
        queries.removeQueries({ predicate: (query) => query.queryKey[0] !== 'session' });
      },
    };
  }, [session, queries]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SignedIn {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside a signed-in page');
  return value;
}
