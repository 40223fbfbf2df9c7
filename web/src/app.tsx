import { lazy, Suspense, type ReactNode } from 'react';
import { describeError } from './api';
import { LoginLinkPage } from './sign-in/LoginLinkPage';
import { SignInPage } from './sign-in/SignInPage';
import { Link, useLocation } from './router';
import { RunsPage } from './runs/RunsPage';
import { SessionProvider, useSession, useSessionQuery } from './session';
import { ThemeToggle } from './theme';

// The pages besides the runs list load on first visit: the first page's JavaScript stays small.
const RunPage = lazy(() => import('./run/RunPage'));
const WorkspacesPage = lazy(() => import('./workspaces/WorkspacesPage'));
const QuotaPage = lazy(() => import('./quota/QuotaPage'));
const UsersPage = lazy(() => import('./admin/UsersPage'));
const NodesPage = lazy(() => import('./admin/NodesPage'));

export function App() {
  const { path } = useLocation();
  const session = useSessionQuery(path !== '/login');
  if (path === '/login') return <LoginLinkPage />;
  if (session.isPending) return <p className="centered" role="status">Loading…</p>;
  if (session.isError) return <p className="centered" role="alert">The server did not answer: {describeError(session.error)}</p>;
  if (!session.data) return <SignInPage />;
  return (
    <SessionProvider session={session.data}>
      <Shell>
        <Suspense fallback={<p role="status">Loading…</p>}>
          <Page path={path} />
        </Suspense>
      </Shell>
    </SessionProvider>
  );
}

function Page({ path }: { path: string }) {
  const { isAdmin } = useSession();
  const run = /^\/runs\/([^/]+)$/.exec(path);
  if (run) {
    const id = decodeURIComponent(run[1]!);
    // A new page for each run (a follow-up moves from its parent to itself): no state carries over.
    return <RunPage key={id} id={id} />;
  }
  switch (path) {
    case '/':
    case '/sign-in':
      return <RunsPage />;
    case '/workspaces':
      return <WorkspacesPage />;
    case '/quota':
      return <QuotaPage />;
    case '/users':
      return isAdmin ? <UsersPage /> : <NotFound />;
    case '/nodes':
      return isAdmin ? <NodesPage /> : <NotFound />;
    default:
      return <NotFound />;
  }
}

function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no such page. <Link href="/">Back to the runs</Link>
      </p>
    </section>
  );
}

function Shell({ children }: { children: ReactNode }) {
  const { session, isAdmin, signOut } = useSession();
  const { path } = useLocation();
  const links: [string, string][] = [
    ['/', 'Runs'],
    ['/workspaces', 'Workspaces'],
    ['/quota', 'Quota'],
    ...(isAdmin ? ([['/users', 'Users'], ['/nodes', 'Nodes and queue']] as [string, string][]) : []),
  ];
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Auto Code</span>
        <nav aria-label="Main">
          <ul>
            {links.map(([href, label]) => (
              <li key={href}>
                <Link href={href} aria-current={path === href || (href === '/' && path.startsWith('/runs/')) ? 'page' : undefined}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="account">
          <span className="user" title={`signed in as ${session.userId}`}>
            {session.userId}
          </span>
          <ThemeToggle />
          <button type="button" className="button subtle" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
