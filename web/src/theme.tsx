import { useState } from 'react';

type Theme = 'light' | 'dark';
const KEY = 'autocode.theme';

function systemTheme(): Theme {
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function storedTheme(): Theme {
  const stored = window.localStorage.getItem(KEY);
  return stored === 'light' || stored === 'dark' ? stored : systemTheme();
}

/** Sets the theme before the first render (the CSP allows no inline script in index.html to do it earlier). */
export function applyStoredTheme(): void {
  document.documentElement.dataset.theme = storedTheme();
}

export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(storedTheme);
  const next: Theme = theme === 'dark' ? 'light' : 'dark';
  const toggle = (): void => {
    window.localStorage.setItem(KEY, next);
    document.documentElement.dataset.theme = next;
    setTheme(next);
  };
  return (
    <button type="button" className="button subtle" onClick={toggle} aria-label={`Switch to ${next} theme`}>
      {theme === 'dark' ? '☀' : '☾'}
    </button>
  );
}
