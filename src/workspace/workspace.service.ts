import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { createHash } from 'node:crypto';
import { mkdir, realpath } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { isInside } from '../common/paths.js';
import type { AppConfig } from '../config/configuration.js';

const MAX_READABLE_SEGMENT = 200;

/**
 * Encodes a user id as one directory name. Letters, digits, `_` and `-` stay
 * as they are; every other byte becomes `%XX`, so `.`, `/` and `..` can never
 * reach the file system. Names too long for a directory become `~` plus a
 * SHA-256 (`~` itself is always escaped, so the two forms never collide).
 */
export function encodeUserSegment(userId: string): string {
  let out = '';
  for (const byte of Buffer.from(userId, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(char) ? char : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  if (out.length === 0 || out.length > MAX_READABLE_SEGMENT) {
    return '~' + createHash('sha256').update(userId, 'utf8').digest('hex');
  }
  return out;
}

export class PathOutsideRootError extends Error {
  override name = 'PathOutsideRootError';
}

/** Per-user directories under `DATA_DIR/users/`: run directories, named workspaces and the agents' home. */
@Injectable()
export class WorkspaceService {
  readonly usersRoot: string;

  constructor(config: ConfigService<AppConfig, true>) {
    this.usersRoot = join(config.get('dataDir', { infer: true }), 'users');
  }

  userRoot(userId: string): string {
    return join(this.usersRoot, encodeUserSegment(userId));
  }

  /** The agent's `HOME`: inside `DATA_DIR`, per user, kept between that user's runs. */
  homeDir(userId: string): string {
    return join(this.userRoot(userId), 'home');
  }

  /** Where a user's named workspaces live; a name is resolved inside it with `resolveInside`. */
  workspacesRoot(userId: string): string {
    return join(this.userRoot(userId), 'workspaces');
  }

  runDir(userId: string, runId: string): string {
    if (!/^[0-9a-f-]{36}$/.test(runId)) {
      throw new PathOutsideRootError(`run id ${JSON.stringify(runId)} is not a UUID`);
    }
    return join(this.userRoot(userId), 'runs', runId);
  }

  /** Creates the run's empty workspace and the user's home; returns the workspace path. */
  async prepareRun(userId: string, runId: string): Promise<{ cwd: string; home: string }> {
    const cwd = this.runDir(userId, runId);
    // Both at once: each is a trip through the thread pool, and this is on the way to the agent's start.
    const [home] = await Promise.all([this.prepareHome(userId), mkdir(cwd, { recursive: true, mode: 0o700 })]);
    return { cwd, home };
  }

  async prepareHome(userId: string): Promise<string> {
    const home = this.homeDir(userId);
    await mkdir(home, { recursive: true, mode: 0o700 });
    return home;
  }

  /**
   * Resolves a client-supplied relative path inside `root`, following symlinks
   * of the parts that exist, and refuses anything that lands outside it.
   */
  async resolveInside(root: string, untrusted: string): Promise<string> {
    if (untrusted.includes('\0') || isAbsolute(untrusted)) {
      throw new PathOutsideRootError(`${JSON.stringify(untrusted)} is not a relative path`);
    }
    const realRoot = await realpath(root);
    const candidate = resolve(realRoot, untrusted);
    assertInside(realRoot, candidate, untrusted);
    const existing = await deepestExisting(candidate);
    assertInside(realRoot, await realpath(existing), untrusted);
    return candidate;
  }
}

function assertInside(root: string, path: string, shown: string): void {
  if (!isInside(root, path)) throw new PathOutsideRootError(`${JSON.stringify(shown)} leaves its root`);
}

async function deepestExisting(path: string): Promise<string> {
  let current = path;
  for (;;) {
    try {
      await realpath(current);
      return current;
    } catch {
      const parent = resolve(current, '..');
      if (parent === current) {
        return current;
      }
      current = parent;
    }
  }
}
