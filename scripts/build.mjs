// Compiles src/ to dist/ with the TypeScript compiler and the @nestjs/swagger plugin, which reads
// the DTOs' and controllers' types into OpenAPI metadata at build time (what `nest build` does with
// the plugin in nest-cli.json, without the CLI's toolchain).
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { before as swaggerPlugin } from '@nestjs/swagger/plugin';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));
const configFile = ts.findConfigFile(root, ts.sys.fileExists, 'tsconfig.build.json');
const { config, error } = ts.readConfigFile(configFile, ts.sys.readFile);
if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
const parsed = ts.parseJsonConfigFileContent(config, ts.sys, root);

rmSync(parsed.options.outDir, { recursive: true, force: true });
const program = ts.createProgram(parsed.fileNames, parsed.options);
const emitted = program.emit(undefined, undefined, undefined, false, {
  before: [swaggerPlugin({ introspectComments: true, classValidatorShim: true, dtoFileNameSuffix: ['.dto.ts', '.entity.ts', '.view.ts'] }, program)],
});
const diagnostics = ts.sortAndDeduplicateDiagnostics([...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics]);
if (diagnostics.length > 0) {
  process.stderr.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' }));
  process.exit(1);
}
