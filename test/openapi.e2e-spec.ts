import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from './helpers/test-server.js';

// The committed openapi.json is what the built server serves (regenerate it with `npm run openapi`).

const ROOT = join(import.meta.dirname, '..');

describe('OpenAPI document', () => {
  it('is served publicly, matches the committed openapi.json, and documents the bearer scheme', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'autocode-openapi-'));
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'main.js')], {
      env: { PATH: process.env.PATH!, DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info', LOG_FORMAT: 'json', ROLE: 'api' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      const port = await waitFor(() => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1], 30_000, 'the server');
      const served = (await (await fetch(`http://127.0.0.1:${port}/api/openapi.json`)).json()) as Record<string, any>;
      const committed = JSON.parse(readFileSync(join(ROOT, 'openapi.json'), 'utf8'));
      expect(served, 'openapi.json is stale: run `npm run openapi`').toEqual(committed);
      expect(served.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
      expect(served.paths['/api/v1/runs'].post.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/SubmitRunDto');
      expect(served.paths['/health/live'].get.security).toEqual([]);
      expect(served.paths['/api/v1/runs'].get.security).toBeUndefined();
      expect((await fetch(`http://127.0.0.1:${port}/api/docs`)).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
