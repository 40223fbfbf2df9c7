import { describe, expect, it } from '@jest/globals';
import { languageOf, parseDiff } from './diff';

const DIFF = [
  'diff --git a/src/a.ts b/src/a.ts',
  'index 1111111..2222222 100644',
  '--- a/src/a.ts',
  '+++ b/src/a.ts',
  '@@ -1,2 +1,2 @@',
  ' keep',
  '-old',
  '+new',
  'diff --git a/notes.md b/notes.md',
  'new file mode 100644',
  '--- /dev/null',
  '+++ b/notes.md',
  '@@ -0,0 +1 @@',
  '+# Notes',
  '',
].join('\n');

describe('parseDiff', () => {
  it('splits a unified diff into files with their lines and counts, headers left out', () => {
    expect(parseDiff(DIFF)).toEqual([
      { path: 'src/a.ts', lines: ['@@ -1,2 +1,2 @@', ' keep', '-old', '+new'], added: 1, removed: 1 },
      { path: 'notes.md', lines: ['@@ -0,0 +1 @@', '+# Notes'], added: 1, removed: 0 },
    ]);
  });

  it('finds no file in an empty diff', () => {
    expect(parseDiff('')).toEqual([]);
  });

  it('names the language of a file by its extension', () => {
    expect(languageOf('src/a.ts')).toBe('typescript');
    expect(languageOf('Makefile')).toBeNull();
  });
});
