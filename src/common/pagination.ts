import { ProblemError } from './problem.js';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Position of the last item of a page in a newest-first list: (createdAt, id). */
export interface Cursor {
  createdAt: string;
  id: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString('base64url');
}

export function decodeCursor(value: string): Cursor {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (Array.isArray(decoded) && decoded.length === 2 && decoded.every((part) => typeof part === 'string')) {
      return { createdAt: decoded[0] as string, id: decoded[1] as string };
    }
  } catch {
    // fall through to the problem below
  }
  throw new ProblemError('validation_failed', 'cursor is not a cursor this server issued');
}
