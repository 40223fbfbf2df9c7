/** A piece of a log line with its ANSI SGR style as CSS classes. */
export interface Segment {
  text: string;
  className: string;
}

// Escape sequences: SGR (colours, bold) is kept as style; anything else (cursor moves, OSC titles) is dropped.
const ESCAPE = /\x1b\[([0-9;]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

interface Style {
  fg: string | null;
  bg: string | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
}

const plain = (): Style => ({ fg: null, bg: null, bold: false, dim: false, italic: false, underline: false });

function apply(style: Style, codes: number[]): void {
  for (let i = 0; i < codes.length; i += 1) {
    const code = codes[i]!;
    if (code === 0) Object.assign(style, plain());
    else if (code === 1) style.bold = true;
    else if (code === 2) style.dim = true;
    else if (code === 3) style.italic = true;
    else if (code === 4) style.underline = true;
    else if (code === 22) style.bold = style.dim = false;
    else if (code === 23) style.italic = false;
    else if (code === 24) style.underline = false;
    else if (code >= 30 && code <= 37) style.fg = String(code - 30);
    else if (code >= 90 && code <= 97) style.fg = String(code - 90 + 8);
    else if (code === 39) style.fg = null;
    else if (code >= 40 && code <= 47) style.bg = String(code - 40);
    else if (code >= 100 && code <= 107) style.bg = String(code - 100 + 8);
    else if (code === 49) style.bg = null;
    else if ((code === 38 || code === 48) && codes[i + 1] === 5) {
      // 256 colours: the 16 basic ones keep their class, the others are shown as the default colour.
      const index = codes[i + 2] ?? 0;
      if (index < 16) style[code === 38 ? 'fg' : 'bg'] = String(index);
      i += 2;
    } else if ((code === 38 || code === 48) && codes[i + 1] === 2) i += 4;
  }
}

function classOf(style: Style): string {
  const classes: string[] = [];
  if (style.fg) classes.push(`ansi-fg-${style.fg}`);
  if (style.bg) classes.push(`ansi-bg-${style.bg}`);
  if (style.bold) classes.push('ansi-bold');
  if (style.dim) classes.push('ansi-dim');
  if (style.italic) classes.push('ansi-italic');
  if (style.underline) classes.push('ansi-underline');
  return classes.join(' ');
}

/** Splits a line into styled segments; the escape sequences themselves are not shown. */
export function parseAnsi(line: string): Segment[] {
  if (!line.includes('\x1b')) return [{ text: line, className: '' }];
  const segments: Segment[] = [];
  const style = plain();
  let last = 0;
  for (const match of line.matchAll(ESCAPE)) {
    if (match.index > last) segments.push({ text: line.slice(last, match.index), className: classOf(style) });
    if (match[2] === 'm') apply(style, (match[1] || '0').split(';').map(Number));
    last = match.index + match[0].length;
  }
  if (last < line.length) segments.push({ text: line.slice(last), className: classOf(style) });
  return segments;
}
