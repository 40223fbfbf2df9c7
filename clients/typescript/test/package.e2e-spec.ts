import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../../../test/jest/expect.js';

// The package as others get it: its generated part matches openapi.json, it builds, and a consumer
// compiles against the built declarations under both module resolutions and imports it at run time.

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CONSUMER = join(PACKAGE, 'test/consumer');

function run(command: string[], cwd: string): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, command, { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The TypeScript compilers on hand: the repository's and the one the package's scripts resolve, when they differ. */
function compilers(): string[] {
  const found = [ROOT, PACKAGE].map((dir) => createRequire(join(dir, 'package.json')).resolve('typescript/bin/tsc'));
  return [...new Set(found)];
}

describe('@autocode/client package', () => {
  describe('generated part', () => {
    let scratch: string;
    beforeAll(() => {
      scratch = mkdtempSync(join(tmpdir(), 'autocode-client-'));
    });
    afterAll(() => rmSync(scratch, { recursive: true, force: true }));

    it('is what openapi-typescript generates from the root openapi.json today', () => {
      const check = run(['scripts/generate.mjs', '--check'], PACKAGE);
      expect(check.status, check.output).toBe(0);
      expect(check.output).toContain('is up to date with ../../openapi.json');
    });

    it('fails the check once the document changes', () => {
      const document = JSON.parse(readFileSync(join(ROOT, 'openapi.json'), 'utf8'));
      document.components.schemas.RunView.properties.priority = { type: 'integer', description: 'A field the committed client does not know.' };
      const changed = join(scratch, 'openapi.json');
      writeFileSync(changed, JSON.stringify(document, null, 2));
      const check = run(['scripts/generate.mjs', '--check', '--input', changed], PACKAGE);
      expect(check.status, check.output).toBe(1);
      expect(check.output).toContain('differs from a fresh generation');
      expect(check.output).toContain('npm run generate');

      // The same document unchanged passes: the check compares content, not the path.
      copyFileSync(join(ROOT, 'openapi.json'), changed);
      expect(run(['scripts/generate.mjs', '--check', '--input', changed], PACKAGE).status).toBe(0);
    });
  });

  describe('built', () => {
    beforeAll(() => {
      const build = run([createRequire(join(PACKAGE, 'package.json')).resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], PACKAGE);
      if (build.status !== 0) throw new Error(`the package did not build:\n${build.output}`);
    });

    it.each(['nodenext', 'bundler'])('type-checks a consumer with moduleResolution %s', (resolution) => {
      for (const tsc of compilers()) {
        const compiled = run([tsc, '-p', `tsconfig.${resolution}.json`], CONSUMER);
        expect(compiled.status, `${tsc}\n${compiled.output}`).toBe(0);
      }
    });

    it('refuses a consumer that misuses it', () => {
      const broken = join(CONSUMER, 'broken.ts');
      const config = join(CONSUMER, 'tsconfig.broken.json');
      writeFileSync(broken, "import { createClient } from '@autocode/client';\nexport const run = createClient({ baseUrl: 'x' }).submitRun({ prompt: 42 });\n");
      writeFileSync(config, JSON.stringify({ extends: './tsconfig.nodenext.json', files: ['broken.ts'] }));
      try {
        const compiled = run([compilers()[0]!, '-p', config], CONSUMER);
        expect(compiled.status, compiled.output).not.toBe(0);
        expect(compiled.output).toContain("Type 'number' is not assignable to type 'string'");
      } finally {
        rmSync(broken, { force: true });
        rmSync(config, { force: true });
      }
    });

    it('imports as an ES module by its package name', () => {
      const imported = run(
        ['--input-type=module', '-e', "const m = await import('@autocode/client'); console.log(Object.keys(m).sort().join(' '));"],
        ROOT,
      );
      expect(imported.status, imported.output).toBe(0);
      expect(imported.output.trim().split(' ')).toEqual(expect.arrayContaining(['AutocodeError', 'createClient', 'followRunEvents', 'FINAL_STATUSES']));
    });
  });
});
