import { describe, expect, it } from '@jest/globals';
import { parseAnsi } from './ansi';

describe('parseAnsi', () => {
  it('leaves a line without escapes as one plain segment', () => {
    expect(parseAnsi('plain text')).toEqual([{ text: 'plain text', className: '' }]);
  });

  it('turns SGR colours and bold into classes, and a reset back to plain', () => {
    expect(parseAnsi('a\x1b[1;31mred\x1b[0m b')).toEqual([
      { text: 'a', className: '' },
      { text: 'red', className: 'ansi-fg-1 ansi-bold' },
      { text: ' b', className: '' },
    ]);
  });

  it('knows the bright colours, backgrounds and the 16 first of the 256', () => {
    expect(parseAnsi('\x1b[92;44mx')).toEqual([{ text: 'x', className: 'ansi-fg-10 ansi-bg-4' }]);
    expect(parseAnsi('\x1b[38;5;3my\x1b[38;5;200mz')).toEqual([
      { text: 'y', className: 'ansi-fg-3' },
      { text: 'z', className: 'ansi-fg-3' },
    ]);
  });

  it('drops other escape sequences (cursor moves, window titles) without showing them', () => {
    expect(parseAnsi('\x1b[2K\x1b]0;title\x07done').map((segment) => segment.text).join('')).toBe('done');
  });
});
