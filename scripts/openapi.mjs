// Writes openapi.json at the repository root from the built application (run `npm run openapi`).
// A test keeps the committed file equal to what the server serves.
import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { loadConfiguration } = await import(join(root, 'dist/config/configuration.js'));
const { createApp } = await import(join(root, 'dist/app.factory.js'));
const { buildOpenApiDocument } = await import(join(root, 'dist/openapi.js'));

const dataDir = mkdtempSync(join(tmpdir(), 'autocode-openapi-'));
try {
  const app = await createApp(loadConfiguration({ PATH: process.env.PATH, DATA_DIR: dataDir, LOG_LEVEL: 'error', LOG_FORMAT: 'json', ROLE: 'api' }));
  const document = buildOpenApiDocument(app);
  await app.close();
  writeFileSync(join(root, 'openapi.json'), JSON.stringify(document, null, 2) + '\n');
  process.stdout.write(`wrote openapi.json: ${Object.keys(document.paths).length} paths\n`);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
