import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { loadConfiguration } from './configuration.js';

describe('loadConfiguration', () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'autocode-config-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('applies the documented defaults', () => {
    const config = loadConfiguration({ DATA_DIR: dataDir });
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8000 });
    expect(config.role).toBe('all');
    expect(config.database).toEqual({ type: 'sqlite', path: join(dataDir, 'autocode.db') });
    expect(config.agents).toEqual({ file: null, maxConcurrent: 4, timeoutSeconds: 3600, graceSeconds: 10 });
    expect(config.quota).toEqual({ defaultTier: 'standard', overflow: 'queue' });
    expect(config.headlessMode).toBe(false);
    expect(config.health.detailedPublic).toBe(false);
  });

  it('generates a 32-byte secret once, mode 0600, and reuses it', () => {
    const first = loadConfiguration({ DATA_DIR: dataDir });
    const file = join(dataDir, 'jwt.secret');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(file, 'utf8'), 'base64url')).toHaveLength(32);
    expect(loadConfiguration({ DATA_DIR: dataDir }).auth.secret).toBe(first.auth.secret);
  });

  it('makes no DATA_DIR or secret for the admin commands: they need the server\'s data there', () => {
    const missing = join(dataDir, 'mistyped');
    expect(() => loadConfiguration({ DATA_DIR: missing }, { serverData: 'require' })).toThrow(/^no server data: DATA_DIR .*mistyped does not exist/);
    expect(() => loadConfiguration({ DATA_DIR: missing }, { serverData: 'initialize' })).toThrow(/does not exist/);
    expect(() => loadConfiguration({ DATA_DIR: dataDir }, { serverData: 'require' })).toThrow(/holds no jwt\.secret/);
    expect(statSync(dataDir).isDirectory() && !statSync(missing, { throwIfNoEntry: false })).toBe(true);
    // `db migrate` sets up an existing DATA_DIR; then the others find its secret.
    const initialized = loadConfiguration({ DATA_DIR: dataDir }, { serverData: 'initialize' });
    expect(loadConfiguration({ DATA_DIR: dataDir }, { serverData: 'require' }).auth.secret).toBe(initialized.auth.secret);
    expect(loadConfiguration({ DATA_DIR: join(dataDir, 'other'), JWT_SECRET: 'y'.repeat(32) }, { serverData: 'create' }).auth.secret).toBe('y'.repeat(32));
  });

  it('uses JWT_SECRET when set and writes no file', () => {
    const secret = 'x'.repeat(32);
    expect(loadConfiguration({ DATA_DIR: dataDir, JWT_SECRET: secret }).auth.secret).toBe(secret);
    expect(() => statSync(join(dataDir, 'jwt.secret'))).toThrow();
  });

  it('reads the workspace settings: clone schemes (https only by default), file roots and worktree retention', () => {
    expect(loadConfiguration({ DATA_DIR: dataDir }).workspaces).toEqual({ repoSchemes: ['https'], fileRoots: [], worktreeRetentionHours: 24 });
    const custom = loadConfiguration({ DATA_DIR: dataDir, WORKSPACE_REPO_SCHEMES: 'https, ssh,https', WORKTREE_RETENTION_HOURS: '0' });
    expect(custom.workspaces).toEqual({ repoSchemes: ['https', 'ssh'], fileRoots: [], worktreeRetentionHours: 0 });
  });

  describe('WORKSPACE_FILE_ROOTS', () => {
    let roots: string;
    beforeEach(() => {
      roots = mkdtempSync(join(tmpdir(), 'autocode-roots-'));
    });
    afterEach(() => rmSync(roots, { recursive: true, force: true }));

    /** The one-line error loading this configuration throws. */
    function refusal(env: Record<string, string>): string | undefined {
      try {
        loadConfiguration({ DATA_DIR: dataDir, ...env });
      } catch (error) {
        return (error as Error).message;
      }
      return undefined;
    }

    it('keeps the real paths of the roots, symlinks followed', () => {
      mkdirSync(join(roots, 'srv'));
      symlinkSync(join(roots, 'srv'), join(roots, 'link'));
      const config = loadConfiguration({ DATA_DIR: dataDir, WORKSPACE_REPO_SCHEMES: 'file,https', WORKSPACE_FILE_ROOTS: ` ${join(roots, 'link')}, ${join(roots, 'srv')} ` });
      expect(config.workspaces.fileRoots).toEqual([realpathSync(join(roots, 'srv'))]);
    });

    it.each([
      ['file among the schemes without roots', { WORKSPACE_REPO_SCHEMES: 'file,https' }, /^Invalid configuration: WORKSPACE_FILE_ROOTS must name the directories/],
      ['a relative root', { WORKSPACE_REPO_SCHEMES: 'file', WORKSPACE_FILE_ROOTS: 'srv/repos' }, /^Invalid configuration: WORKSPACE_FILE_ROOTS must list absolute directories/],
      ['a missing root', { WORKSPACE_FILE_ROOTS: '/nonexistent/repos' }, /^Invalid configuration: WORKSPACE_FILE_ROOTS names \/nonexistent\/repos, which does not exist/],
      ['a file as root', { WORKSPACE_FILE_ROOTS: '/etc/hostname' }, /^Invalid configuration: WORKSPACE_FILE_ROOTS names \/etc\/hostname, which is not a directory/],
    ])('refuses %s with one line naming the variable', (_case, env, message) => {
      const error = refusal(env);
      expect(error).toMatch(message);
      expect(error).not.toContain('\n');
    });

    it('refuses DATA_DIR, a directory inside it, or a symlink to one, as a root', () => {
      mkdirSync(join(dataDir, 'users'));
      symlinkSync(join(dataDir, 'users'), join(roots, 'users-link'));
      for (const root of [dataDir, join(dataDir, 'users'), join(roots, 'users-link')]) {
        expect(refusal({ WORKSPACE_REPO_SCHEMES: 'file', WORKSPACE_FILE_ROOTS: root })).toMatch(/^Invalid configuration: WORKSPACE_FILE_ROOTS names .*, which is inside DATA_DIR$/);
      }
    });
  });

  it('reads the sandbox settings: auto, no opt-out and uid 65534 by default', () => {
    expect(loadConfiguration({ DATA_DIR: dataDir }).sandbox).toEqual({ mode: 'auto', allowOptOut: false, bwrap: 'bwrap', uid: 65534, gid: 65534 });
    const custom = loadConfiguration({ DATA_DIR: dataDir, SANDBOX: 'bwrap', SANDBOX_ALLOW_OPT_OUT: 'true', SANDBOX_BWRAP: '/opt/bwrap', SANDBOX_UID: '7000' });
    expect(custom.sandbox).toEqual({ mode: 'bwrap', allowOptOut: true, bwrap: '/opt/bwrap', uid: 7000, gid: 7000 });
    expect(() => loadConfiguration({ DATA_DIR: dataDir, SANDBOX: 'docker' })).toThrow(/^Invalid configuration: SANDBOX must be one of/);
    expect(() => loadConfiguration({ DATA_DIR: dataDir, SANDBOX_UID: '0' })).toThrow(/^Invalid configuration: SANDBOX_UID /);
  });

  it('treats empty variables as unset', () => {
    expect(loadConfiguration({ DATA_DIR: dataDir, PORT: '', DATABASE_URL: '' }).http.port).toBe(8000);
  });

  it('selects PostgreSQL for a postgres:// DATABASE_URL', () => {
    const url = 'postgres://user@127.0.0.1:5432/db';
    expect(loadConfiguration({ DATA_DIR: dataDir, DATABASE_URL: url }).database).toEqual({ type: 'postgres', url });
  });

  it.each([
    [{ JWT_SECRET: 'short' }, /^Invalid configuration: JWT_SECRET must be at least 32 bytes/],
    [{ PORT: '70000' }, /^Invalid configuration: PORT /],
    [{ PORT: 'abc' }, /^Invalid configuration: PORT /],
    [{ MAX_CONCURRENT_AGENTS: '0' }, /^Invalid configuration: MAX_CONCURRENT_AGENTS /],
    [{ AGENT_TIMEOUT_SECONDS: '1.5' }, /^Invalid configuration: AGENT_TIMEOUT_SECONDS /],
    [{ ROLE: 'boss' }, /^Invalid configuration: ROLE /],
    [{ QUOTA_DEFAULT_TIER: 'gold' }, /^Invalid configuration: QUOTA_DEFAULT_TIER /],
    [{ QUOTA_OVERFLOW: 'drop' }, /^Invalid configuration: QUOTA_OVERFLOW /],
    [{ DATABASE_URL: 'mysql://x' }, /^Invalid configuration: DATABASE_URL /],
    [{ HEADLESS_MODE: 'yes' }, /^Invalid configuration: HEADLESS_MODE /],
    [{ LOG_LEVEL: 'loud' }, /^Invalid configuration: LOG_LEVEL /],
    [{ WORKSPACE_REPO_SCHEMES: 'https,ext' }, /^Invalid configuration: WORKSPACE_REPO_SCHEMES /],
    [{ WORKSPACE_REPO_SCHEMES: 'fd' }, /^Invalid configuration: WORKSPACE_REPO_SCHEMES /],
    [{ WORKTREE_RETENTION_HOURS: '-1' }, /^Invalid configuration: WORKTREE_RETENTION_HOURS /],
  ])('refuses %o with one line naming the variable', (env, message) => {
    let error: Error | undefined;
    try {
      loadConfiguration({ DATA_DIR: dataDir, ...env });
    } catch (caught) {
      error = caught as Error;
    }
    expect(error?.message).toMatch(message);
    expect(error?.message).not.toContain('\n');
  });

  it('refuses a generated secret file that was truncated', () => {
    writeFileSync(join(dataDir, 'jwt.secret'), 'tiny', { mode: 0o600 });
    expect(() => loadConfiguration({ DATA_DIR: dataDir })).toThrow(/shorter than 32 bytes/);
  });
});
