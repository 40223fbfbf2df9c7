import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import csharp from 'highlight.js/lib/languages/csharp';
import css from 'highlight.js/lib/languages/css';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import ruby from 'highlight.js/lib/languages/ruby';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';

// Loaded with the diff view only, so the first page does not carry it.
for (const [name, language] of Object.entries({ bash, c, cpp, csharp, css, go, java, javascript, json, markdown, python, ruby, rust, sql, typescript, xml, yaml })) {
  hljs.registerLanguage(name, language);
}

/** The line as highlighted HTML (highlight.js escapes the text itself). */
export function highlightLine(code: string, language: string): string {
  return hljs.highlight(code, { language, ignoreIllegals: true }).value;
}
