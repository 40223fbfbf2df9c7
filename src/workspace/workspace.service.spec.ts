import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigService } from '@nestjs/config';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../../test/jest/expect.js';
import { encodeUserSegment, PathOutsideRootError, WorkspaceService } from './workspace.service.js';

describe('encodeUserSegment', () => {
  it('keeps plain ids readable', () => {
    expect(encodeUserSegment('alice_01-x')).toBe('alice_01-x');
  });

  it.each(['..', '.', '../etc', 'a/b', 'a\\b', '/abs', '~root', 'a\0b', ' '])('never yields a path component for %j', (id) => {
    const segment = encodeUserSegment(id);
    expect(segment).toMatch(/^[A-Za-z0-9_%~-]+$/);
    expect(segment).not.toContain('/');
    expect(segment).not.toMatch(/^\.+$/);
  });

  it('is injective across escaped, unicode and hashed forms', () => {
    const ids = ['a.b', 'a%2Eb', 'a_b', 'é', '%C3%A9', 'x'.repeat(128), 'y'.repeat(128), '~', '%7E'];
    expect(new Set(ids.map(encodeUserSegment)).size).toBe(ids.length);
  });

  it('bounds long ids to a fixed-length hash', () => {
    expect(encodeUserSegment('/'.repeat(128))).toMatch(/^~[0-9a-f]{64}$/);
  });
});

describe('WorkspaceService', () => {
  let dataDir: string;
  let service: WorkspaceService;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'autocode-ws-'));
    service = new WorkspaceService({ get: () => dataDir } as unknown as ConfigService<never, true>);
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('places runs under DATA_DIR/users/<encoded id>/runs/<run id>', () => {
    const runId = '0b6f1b0e-6a43-4f5e-9d3c-1c2b3a4d5e6f';
    expect(service.runDir('../../etc', runId)).toBe(join(dataDir, 'users', '%2E%2E%2F%2E%2E%2Fetc', 'runs', runId));
    expect(() => service.runDir('alice', '../../x')).toThrow(PathOutsideRootError);
  });

  it('resolves paths inside a root and refuses escapes, symlinks included', async () => {
    const root = join(dataDir, 'root');
    mkdirSync(join(root, 'src'), { recursive: true });
    mkdirSync(join(dataDir, 'outside'));
    symlinkSync(join(dataDir, 'outside'), join(root, 'link'));
    await expect(service.resolveInside(root, 'src/new-file.ts')).resolves.toBe(join(root, 'src', 'new-file.ts'));
    for (const bad of ['../outside', 'src/../../outside', '/etc/passwd', 'link/secret', 'link', 'a\0b']) {
      await expect(service.resolveInside(root, bad), bad).rejects.toBeInstanceOf(PathOutsideRootError);
    }
  });
});
