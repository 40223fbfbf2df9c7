/** One file of a unified diff, as `git diff` writes it. */
export interface DiffFile {
  path: string;
  lines: string[];
  added: number;
  removed: number;
}

export function parseDiff(text: string): DiffFile[] {
  const files: DiffFile[] = [];
  let current: DiffFile | null = null;
  // The diff ends with a newline: no empty last line.
  for (const line of text.replace(/\n$/, '').split('\n')) {
    const header = /^diff --git a\/(.*) b\/(.*)$/.exec(line);
    if (header) {
      current = { path: header[2]!, lines: [], added: 0, removed: 0 };
      files.push(current);
      continue;
    }
    if (!current) continue;
    if (line.startsWith('+++ ') || line.startsWith('--- ') || /^(index|new file|deleted file|similarity|rename|old mode|new mode) /.test(line)) continue;
    current.lines.push(line);
    if (line.startsWith('+')) current.added += 1;
    else if (line.startsWith('-')) current.removed += 1;
  }
  return files;
}

/** The highlight.js language of a file, by its extension; null for none. */
export function languageOf(path: string): string | null {
  const extension = path.split('.').pop()?.toLowerCase() ?? '';
  const map: Record<string, string> = {
    ts: 'typescript', tsx: 'typescript', mts: 'typescript', cts: 'typescript',
    js: 'javascript', jsx: 'javascript', mjs: 'javascript', cjs: 'javascript',
    json: 'json', py: 'python', go: 'go', rs: 'rust', java: 'java', rb: 'ruby',
    sh: 'bash', bash: 'bash', yml: 'yaml', yaml: 'yaml', md: 'markdown', css: 'css',
    html: 'xml', xml: 'xml', svg: 'xml', sql: 'sql', c: 'c', h: 'c', cpp: 'cpp', cs: 'csharp',
  };
  return map[extension] ?? null;
}
