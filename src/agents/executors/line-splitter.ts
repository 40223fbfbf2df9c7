import { StringDecoder } from 'node:string_decoder';

/** Longest line kept as one event; a longer line is cut into several. */
export const MAX_LINE_CHARS = 64 * 1024;

/**
 * Splits a byte stream into lines (`\n` or `\r\n`), decoding UTF-8 across
 * chunk boundaries and bounding the memory one unterminated line can take.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer): void {
    this.consume(this.decoder.write(chunk));
  }

  end(): void {
    this.consume(this.decoder.end());
    if (this.partial.length > 0) {
      this.onLine(this.partial);
      this.partial = '';
    }
  }

  private consume(text: string): void {
    let buffer = this.partial + text;
    let newline = buffer.indexOf('\n');
    while (newline !== -1) {
      const line = buffer.slice(0, newline);
      this.emitBounded(line.endsWith('\r') ? line.slice(0, -1) : line);
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf('\n');
    }
    while (buffer.length > MAX_LINE_CHARS) {
      this.onLine(buffer.slice(0, MAX_LINE_CHARS));
      buffer = buffer.slice(MAX_LINE_CHARS);
    }
    this.partial = buffer;
  }

  private emitBounded(line: string): void {
    for (let start = 0; start < line.length || start === 0; start += MAX_LINE_CHARS) {
      this.onLine(line.slice(start, start + MAX_LINE_CHARS));
      if (line.length === 0) break;
    }
  }
}
