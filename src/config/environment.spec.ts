import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { getMetadataStorage } from 'class-validator';
import { EnvironmentVariables } from './environment.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** The variables the configuration reads: the properties of its validated schema. */
function schemaVariables(): string[] {
  const metadata = getMetadataStorage().getTargetValidationMetadatas(EnvironmentVariables, '', true, false);
  return [...new Set(metadata.map((entry) => entry.propertyName))].sort();
}

/** The variables of the README's configuration table: the backquoted names in its first column. */
function readmeVariables(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Configuration\n'), readme.indexOf('\n## API overview\n'));
  const table = section.slice(section.indexOf('| variable |'));
  const rows = table.slice(0, table.indexOf('\n\n')).split('\n').slice(2);
  return [...new Set(rows.flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1]!)))].sort();
}

/** The variables `.env.example` sets (each on a commented-out `#NAME=` line). */
function envExampleVariables(): string[] {
  const example = readFileSync(join(ROOT, '.env.example'), 'utf8');
  return [...new Set([...example.matchAll(/^#([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]!))].sort();
}

describe('the documented environment', () => {
  it('reads a schema of variables (the control for the comparisons below)', () => {
    expect(schemaVariables()).toEqual(expect.arrayContaining(['DATA_DIR', 'JWT_SECRET', 'SANDBOX']));
  });

  it('lists in the README table exactly the variables the configuration reads', () => {
    expect(readmeVariables()).toEqual(schemaVariables());
  });

  it('lists in .env.example exactly the variables the configuration reads', () => {
    expect(envExampleVariables()).toEqual(schemaVariables());
  });
});
