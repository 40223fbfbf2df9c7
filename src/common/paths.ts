import { isAbsolute, relative, sep } from 'node:path';

/** Whether `path` is `root` or below it (both absolute, compared as written: resolve symlinks first where they matter). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}
