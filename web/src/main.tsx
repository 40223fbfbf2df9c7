import { QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { AutocodeError } from './api';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app';
import { applyStoredTheme } from './theme';
import './styles.css';

applyStoredTheme();

const queries: QueryClient = new QueryClient({
  defaultOptions: { queries: { refetchOnWindowFocus: true, retry: (failures, error) => failures < 1 && !(error instanceof AutocodeError && error.status < 500) } },
  // A 401 means the session has ended (signed out elsewhere, or expired with its token): back to the sign-in page.
  queryCache: new QueryCache({
    onError: (error) => {
      if (error instanceof AutocodeError && error.status === 401) queries.setQueryData(['session'], null);
    },
  }),
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queries}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
