// Builds dist/ in three steps (the third, the dashboard, is at the end).
// 1. Compiles src/ to dist/ with the TypeScript compiler and the @nestjs/swagger plugin, which reads
//    the DTOs' and controllers' types into OpenAPI metadata at build time (what `nest build` does with
//    the plugin in nest-cli.json, without the CLI's toolchain).
// 2. Bundles that output, from the two entry points dist/main.js and dist/cli.js, into those same
//    files and the chunks they share in dist/chunks/ (esbuild). Node then reads a few dozen files at
//    startup instead of well over a thousand modules of node_modules, which was most of the time to
//    ready. The bundle is of tsc's JavaScript, so the decorator metadata and the swagger plugin's
//    metadata are in it as tsc wrote them. The rest of dist/ stays as tsc wrote it
//    (scripts/openapi.mjs imports from there).
import { rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before as swaggerPlugin } from '@nestjs/swagger/plugin';
import * as esbuild from 'esbuild';
import ts from 'typescript';
import { writeStamp } from './build-stamp.mjs';

const startedAt = Date.now();

const root = fileURLToPath(new URL('..', import.meta.url));

function reportDiagnostics(diagnostics) {
  if (diagnostics.length === 0) return;
  process.stderr.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' }));
  process.exit(1);
}

/** Compiles one tsconfig project as it is (for the client package: its own dist/). */
function buildTypeScript(configPath) {
  const { config: projectConfig, error: readError } = ts.readConfigFile(configPath, ts.sys.readFile);
  if (readError) throw new Error(ts.flattenDiagnosticMessageText(readError.messageText, '\n'));
  const project = ts.parseJsonConfigFileContent(projectConfig, ts.sys, dirname(configPath));
  rmSync(project.options.outDir, { recursive: true, force: true });
  const compiled = ts.createProgram(project.fileNames, project.options);
  const result = compiled.emit();
  reportDiagnostics(ts.sortAndDeduplicateDiagnostics([...ts.getPreEmitDiagnostics(compiled), ...result.diagnostics]));
}
const configFile = ts.findConfigFile(root, ts.sys.fileExists, 'tsconfig.build.json');
const { config, error } = ts.readConfigFile(configFile, ts.sys.readFile);
if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
const parsed = ts.parseJsonConfigFileContent(config, ts.sys, root);
const outDir = parsed.options.outDir;

// The API client the CLI's remote commands use is an npm workspace package: build it first, as its
// users would get it (dist/ with its declarations).
buildTypeScript(join(root, 'clients', 'typescript', 'tsconfig.json'));

rmSync(outDir, { recursive: true, force: true });
const program = ts.createProgram(parsed.fileNames, parsed.options);
const emitted = program.emit(undefined, undefined, undefined, false, {
  before: [swaggerPlugin({ introspectComments: true, classValidatorShim: true, dtoFileNameSuffix: ['.dto.ts', '.entity.ts', '.view.ts'] }, program)],
});
reportDiagnostics(ts.sortAndDeduplicateDiagnostics([...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics]));

// Loaded from node_modules at run time, not bundled: native addons and the packages that load
// files of their own by path (pino's transports run in worker threads from their files,
// swagger-ui-dist serves its directory, the agent SDK starts its own CLI), and the development
// tools that optional code paths of dependencies require (typescript and prettier, which
// cosmiconfig and @fig/complete-commander load only on request).
const EXTERNAL = [
  'better-sqlite3',
  'pg',
  'pg-native',
  'pino',
  'pino-pretty',
  'thread-stream',
  'swagger-ui-dist',
  '@anthropic-ai/claude-agent-sdk',
  'typescript',
  'prettier',
];

/**
 * A package that is not installed stays an import at run time, where it fails as it would
 * unbundled: the optional peers that Nest and Fastify try (microservices, websockets, multipart…)
 * and catch.
 */
const notInstalledIsExternal = {
  name: 'not-installed-is-external',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData?.probing) return undefined;
      const { kind, resolveDir, importer } = args;
      const resolved = await build.resolve(args.path, { kind, resolveDir, importer, pluginData: { probing: true } });
      return resolved.errors.length > 0 ? { path: args.path, external: true } : resolved;
    });
  },
};

/**
 * Two edits to a dependency's source as the bundle reads it:
 * - Nest's ESM packages require some dependencies through `createRequire(import.meta.url)`, which
 *   esbuild does not follow (evanw/esbuild#1828): those would load a second copy from node_modules
 *   (class-transformer's metadata storage for mapped types, typeorm for @nestjs/typeorm). Without
 *   the createRequire line, their `require()` calls are ordinary ones that the bundle resolves to
 *   the same module instances as everything else.
 * - Its own source map is not followed: it points at sources (typeorm's TypeScript) that are not
 *   installed, under paths that the bundle's map would then present as this project's `src/`.
 *   Stack traces and profiles name the installed file instead.
 */
const CREATE_REQUIRE_LINE = /^(?:const|let|var)\s+require\s*=\s*createRequire\(import\.meta\.url\);?$/m;
const SOURCE_MAP_COMMENT = /^\/\/# sourceMappingURL=.*$/m;
const dependencySources = {
  name: 'dependency-sources',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/].*\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!CREATE_REQUIRE_LINE.test(source) && !SOURCE_MAP_COMMENT.test(source)) return undefined;
      return { contents: source.replace(CREATE_REQUIRE_LINE, '').replace(SOURCE_MAP_COMMENT, ''), loader: 'js' };
    });
  },
};

/**
 * With code splitting, esbuild gives `import()` of a bundled CommonJS module only its default
 * export (evanw/esbuild#3245), where Node would also give the named ones. These are the packages
 * dependencies import() that way and that still work: Nest's ValidationPipe and
 * ClassSerializerInterceptor import class-validator and class-transformer (our pipe is given both
 * packages instead, see app.module.ts; we use no serializer interceptor), and @fastify/static and
 * @fastify/cors are used through their default export. Any other stops the build, to be checked.
 */
const CJS_IMPORTED_DYNAMICALLY = new Set(['class-validator', 'class-transformer', '@fastify/static', '@fastify/cors']);

const { metafile } = await esbuild.build({
  entryPoints: [join(outDir, 'main.js'), join(outDir, 'cli.js')],
  outdir: outDir,
  allowOverwrite: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: EXTERNAL,
  plugins: [notInstalledIsExternal, dependencySources],
  // Class and function names as written: Nest names providers by them and the OpenAPI schemas are
  // the DTOs' class names.
  keepNames: true,
  // Less to read and parse at startup; names are kept, and `node --enable-source-maps` maps stack
  // traces back to src/ through the source maps.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: true,
  // The dependencies' CommonJS code calls require(); in an ES module it is made from the chunk's URL.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'error',
  metafile: true,
});

const packageOf = (path) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1] ?? path;
const unchecked = Object.entries(metafile.inputs).flatMap(([importer, { imports }]) =>
  imports
    .filter((i) => i.kind === 'dynamic-import' && !i.external && metafile.inputs[i.path]?.format === 'cjs' && !CJS_IMPORTED_DYNAMICALLY.has(packageOf(i.path)))
    .map((i) => `${importer} imports ${i.path}`),
);
if (unchecked.length > 0) {
  process.stderr.write(`build: import() of CommonJS modules in the bundle, which would see only their default export:\n  ${unchecked.join('\n  ')}\n`);
  process.exit(1);
}

// 3. The dashboard (web/) into dist/web, which the server serves at `/`.
const { buildWeb } = await import('./build-web.mjs');
const { initialJsGzipBytes } = await buildWeb();
process.stdout.write(`dashboard: initial JavaScript ${(initialJsGzipBytes / 1024).toFixed(1)} KB gzipped (budget 150 KB)\n`);

writeStamp(root, startedAt);
