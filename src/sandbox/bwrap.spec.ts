import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bwrapArguments, commandPaths, findExecutable, identityFiles, type SystemLayout } from './bwrap.js';

const layout: SystemLayout = { directories: ['/usr'], links: [['usr/bin', '/bin']] };
const fds = { passwd: 3, group: 4, info: 5 };
const mounts = { workspace: '/data/users/alice/runs/r1', home: '/data/users/alice/home', readOnly: ['/opt/tool'], network: true };

/** The values that follow each occurrence of `flag`, `count` at a time. */
function after(args: string[], flag: string, count = 1): string[][] {
  return args.flatMap((arg, index) => (arg === flag ? [args.slice(index + 1, index + 1 + count)] : []));
}

describe('bubblewrap arguments', () => {
  const args = bwrapArguments(mounts, layout, fds);

  it('unshares every namespace but the network, as a non-root uid, in its own session, dying with its parent', () => {
    for (const flag of ['--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--die-with-parent', '--new-session', '--disable-userns']) {
      expect(args).toContain(flag);
    }
    expect(args).not.toContain('--unshare-net');
    expect(after(args, '--uid')).toEqual([['1000']]);
    expect(bwrapArguments({ ...mounts, network: false }, layout, fds)).toContain('--unshare-net');
  });

  it('shows the system read-only, the workspace and home read-write, and a private /tmp', () => {
    const readOnly = after(args, '--ro-bind', 2).map(([source]) => source);
    expect(readOnly).toEqual(['/usr', '/opt/tool']);
    expect(after(args, '--bind', 2)).toEqual([
      [mounts.home, mounts.home],
      [mounts.workspace, mounts.workspace],
    ]);
    expect(after(args, '--symlink', 2)).toEqual([['usr/bin', '/bin']]);
    expect(after(args, '--tmpfs')).toEqual([['/tmp'], ['/var/tmp']]);
    expect(after(args, '--chdir')).toEqual([[mounts.workspace]]);
    // /etc is not mounted whole: only what name resolution, TLS and the linker need, and generated identity files.
    expect(args).not.toContain('/etc');
    expect(after(args, '--ro-bind-try', 2).map(([source]) => source)).toEqual(expect.arrayContaining(['/etc/resolv.conf', '/etc/ssl', '/etc/ld.so.cache']));
    expect(after(args, '--ro-bind-data', 2)).toEqual([
      ['3', '/etc/passwd'],
      ['4', '/etc/group'],
    ]);
    // The workspace is mounted last, so nothing read-only can cover it.
    expect(args.lastIndexOf('--bind')).toBeGreaterThan(args.lastIndexOf('--ro-bind'));
  });

  it('writes identity files naming only the agent', () => {
    const { passwd, group } = identityFiles('/home/x');
    expect(passwd).toContain('agent:x:1000:1000:agent:/home/x:/bin/sh');
    expect(passwd).not.toContain('root');
    expect(group).toContain('agent:x:1000:');
  });
});

describe('command paths', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'autocode-bwrap-'));
    writeFileSync(join(dir, 'agent.mjs'), '');
    writeFileSync(join(dir, 'tool'), '#!/bin/sh\n');
    chmodSync(join(dir, 'tool'), 0o755);
    symlinkSync(join(dir, 'tool'), join(dir, 'tool-link'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds programs as execvp would', () => {
    expect(findExecutable('tool', `/nonexistent:${dir}`)).toBe(join(dir, 'tool'));
    expect(findExecutable('missing-tool', dir)).toBeNull();
    expect(findExecutable(join(dir, 'tool'))).toBe(join(dir, 'tool'));
  });

  it('shows the program and the files the command names, never a directory or a system path', () => {
    expect(commandPaths('/usr/bin/node', [join(dir, 'agent.mjs'), '{prompt}', dir, '/'], '')).toEqual([join(dir, 'agent.mjs')]);
    expect(commandPaths('tool-link', [], dir).sort()).toEqual([join(dir, 'tool'), join(dir, 'tool-link')].sort());
  });
});
