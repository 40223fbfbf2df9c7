import { describe, expect, it } from '@jest/globals';
import { makeScrubber } from './redaction.js';

describe('makeScrubber', () => {
  const secret = 'Zq3kP0vYt8mB2xW7nR4sL1cF6hJ9dA5e';

  it('replaces a configured secret anywhere in a serialized line, as many times as it appears', () => {
    const scrub = makeScrubber([secret, null, undefined]);
    const line = JSON.stringify({ msg: `key ${secret}`, nested: { deep: [`x${secret}y`] }, err: { message: `bad ${secret}` } });
    const scrubbed = scrub(line);
    expect(scrubbed).not.toContain(secret);
    expect(JSON.parse(scrubbed)).toEqual({ msg: 'key [redacted]', nested: { deep: ['x[redacted]y'] }, err: { message: 'bad [redacted]' } });
  });

  it('finds a secret as JSON escapes it, and a secret that contains another whole', () => {
    const quoted = 'pass"word\\with-escapes';
    const scrub = makeScrubber([quoted, 'longer-secret-value', 'longer-secret']);
    expect(JSON.parse(scrub(JSON.stringify({ msg: `a ${quoted} b` })))).toEqual({ msg: 'a [redacted] b' });
    expect(scrub('x longer-secret-value y')).toBe('x [redacted] y');
  });

  it('redacts bearer tokens and JWTs, and leaves short secrets and ordinary text alone', () => {
    const scrub = makeScrubber(['short']);
    expect(scrub('Authorization: Bearer abc.def-ghi')).toBe('Authorization: [redacted]');
    expect(scrub('token eyJhbGciOi.eyJzdWIiOiJh.c2lnbmF0dXJl end')).toBe('token [redacted] end');
    expect(scrub('a short line')).toBe('a short line');
  });
});
