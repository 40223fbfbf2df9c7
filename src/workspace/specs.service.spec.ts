import { describe, expect, it } from '@jest/globals';
import { SPEC_ID, slugify } from './specs.service.js';

describe('slugify', () => {
  it.each([
    ['Add login page!', 'add-login-page'],
    ['  Élan  vital ', 'elan-vital'],
    ['../../etc/passwd', 'etc-passwd'],
    ['日本語', 'spec'],
    ['---', 'spec'],
    ['x'.repeat(100), 'x'.repeat(60)],
  ])('%j → %j, always a valid spec id after its number', (title, slug) => {
    expect(slugify(title)).toBe(slug);
    expect(`001-${slugify(title)}`).toMatch(SPEC_ID);
  });
});
