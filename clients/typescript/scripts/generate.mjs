// Generates src/generated/schema.ts, the types of every route, from the repository's openapi.json
// with openapi-typescript. `--check` writes nothing and fails when the committed file differs from a
// fresh generation; `--input <file>` reads another OpenAPI document.
import { readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import openapiTS, { astToString } from 'openapi-typescript';

const packageRoot = fileURLToPath(new URL('..', import.meta.url));
const output = resolve(packageRoot, 'src/generated/schema.ts');

const { values } = parseArgs({
  options: {
    check: { type: 'boolean', default: false },
    input: { type: 'string', default: resolve(packageRoot, '../../openapi.json') },
  },
});
const input = resolve(values.input);

const HEADER = `// Generated from openapi.json by openapi-typescript: do not edit. Run \`npm run generate\` in clients/typescript.
/* eslint-disable */

`;

const document = JSON.parse(readFileSync(input, 'utf8'));
const ast = await openapiTS(document, { silent: true });
const generated = HEADER + astToString(ast);
const shown = relative(process.cwd(), output) || output;

if (values.check) {
  let committed = '';
  try {
    committed = readFileSync(output, 'utf8');
  } catch {
    process.stderr.write(`${shown} is missing: run \`npm run generate\` in clients/typescript\n`);
    process.exit(1);
  }
  if (committed !== generated) {
    const a = committed.split('\n');
    const b = generated.split('\n');
    let line = 0;
    while (line < a.length && line < b.length && a[line] === b[line]) line += 1;
    process.stderr.write(
      `${shown} differs from a fresh generation from ${relative(process.cwd(), input) || input} (first at line ${line + 1}):\n` +
        `  committed: ${a[line] ?? '(end of file)'}\n` +
        `  generated: ${b[line] ?? '(end of file)'}\n` +
        'Run `npm run generate` in clients/typescript and commit the result.\n',
    );
    process.exit(1);
  }
  process.stdout.write(`${shown} is up to date with ${relative(process.cwd(), input) || input}\n`);
} else {
  writeFileSync(output, generated);
  process.stdout.write(`wrote ${shown} from ${relative(process.cwd(), input) || input}\n`);
}
