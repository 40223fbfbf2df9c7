import { useMemo } from 'react';
import { languageOf, parseDiff } from './diff';
import { highlightLine } from './highlight';

const MAX_HIGHLIGHTED_LINES = 5000;

/** The diff: a list of the changed files, then each file's hunks, syntax-highlighted. */
export default function DiffView({ text }: { text: string }) {
  const files = useMemo(() => parseDiff(text), [text]);
  let budget = MAX_HIGHLIGHTED_LINES;
  if (files.length === 0) return <p className="muted">The run changed no file.</p>;
  return (
    <div className="diff">
      <nav aria-label="Changed files">
        <ul className="diff-files">
          {files.map((file, index) => (
            <li key={file.path}>
              <a href={`#file-${index}`}>{file.path}</a> <span className="added">+{file.added}</span> <span className="removed">−{file.removed}</span>
            </li>
          ))}
        </ul>
      </nav>
      {files.map((file, index) => {
        const language = languageOf(file.path);
        return (
          <section key={file.path} id={`file-${index}`} className="diff-file" aria-label={file.path}>
            <h3>{file.path}</h3>
            <pre className="diff-code" tabIndex={0}>
              {file.lines.map((line, at) => {
                const kind = line.startsWith('@@') ? 'hunk' : line.startsWith('+') ? 'add' : line.startsWith('-') ? 'del' : 'ctx';
                const code = kind === 'hunk' ? line : line.slice(1);
                const highlighted = kind !== 'hunk' && language && budget-- > 0;
                return (
                  <div key={at} className={`diff-line ${kind}`}>
                    <span className="diff-sign" aria-hidden="true">
                      {kind === 'add' ? '+' : kind === 'del' ? '−' : ' '}
                    </span>
                    {highlighted ? <code dangerouslySetInnerHTML={{ __html: highlightLine(code, language) }} /> : <code>{code}</code>}
                  </div>
                );
              })}
            </pre>
          </section>
        );
      })}
    </div>
  );
}
