import { readFileSync } from 'node:fs';

/**
 * The version in the nearest package.json above this module: the project's, whether this runs
 * from `src/`, from `dist/` or from a bundle chunk in `dist/chunks/`.
 */
function packageVersion(): string {
  for (let dir = new URL('.', import.meta.url); ; dir = new URL('..', dir)) {
    try {
      return (JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { version: string }).version;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || dir.pathname === '/') throw error;
    }
  }
}

/** The package version, read once. */
export const VERSION: string = packageVersion();
