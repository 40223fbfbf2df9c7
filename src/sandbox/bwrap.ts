import { existsSync, lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** The uid and gid an agent has inside its sandbox: never root. */
export const SANDBOX_UID = 1000;
export const SANDBOX_GID = 1000;

/** What of `/etc` name resolution, TLS, the dynamic linker and `/usr/bin` alternatives need; nothing else of it is visible. */
const ETC_ENTRIES = [
  '/etc/resolv.conf',
  '/etc/hosts',
  '/etc/host.conf',
  '/etc/nsswitch.conf',
  '/etc/gai.conf',
  '/etc/services',
  '/etc/protocols',
  '/etc/ssl',
  '/etc/ca-certificates',
  '/etc/ca-certificates.conf',
  '/etc/pki',
  '/etc/crypto-policies',
  '/etc/alternatives',
  '/etc/localtime',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
];

/** Top-level entries of a merged-/usr system that are links into `/usr`, or directories of their own on older layouts. */
const ROOT_ENTRIES = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/** How the host's system directories are laid out, read once. */
export interface SystemLayout {
  /** Directories mounted read-only at the same path. */
  directories: string[];
  /** `[target, path]`: symbolic links recreated as they are (`/bin -> usr/bin`). */
  links: [string, string][];
}

export function readSystemLayout(): SystemLayout {
  const layout: SystemLayout = { directories: ['/usr'], links: [] };
  for (const entry of ROOT_ENTRIES) {
    try {
      const stat = lstatSync(entry);
      if (stat.isSymbolicLink()) layout.links.push([readlinkSync(entry), entry]);
      else if (stat.isDirectory()) layout.directories.push(entry);
    } catch {
      // not on this system
    }
  }
  return layout;
}

/** What a run's sandbox shows besides the system. */
export interface SandboxMounts {
  /** The run's workspace: read-write, and the working directory. */
  workspace: string;
  /** The user's home: read-write, kept between that user's runs. */
  home: string;
  /** Host paths visible read-only at the same path. */
  readOnly: string[];
  /** Whether the sandbox shares the host's network; without it only its own loopback exists. */
  network: boolean;
}

/** File descriptors of the spawned bubblewrap: the generated passwd and group files, its status report, the seccomp filter. */
export interface SandboxDescriptors {
  passwd: number;
  group: number;
  info: number;
  /** Absent where no filter is defined for the architecture. */
  seccomp?: number;
}

/**
 * bubblewrap's arguments for one agent: a new user, PID, IPC, UTS and cgroup
 * namespace (and network unless shared), the system read-only, a private
 * `/tmp`, `/proc` of its own, the workspace and home read-write at their host
 * paths; nothing of `DATA_DIR` beyond them. The agent runs as an unprivileged
 * uid, in a session of its own, and dies with bubblewrap.
 */
export function bwrapArguments(mounts: SandboxMounts, layout: SystemLayout, fds: SandboxDescriptors): string[] {
  const args = [
    '--unshare-user',
    '--uid', String(SANDBOX_UID),
    '--gid', String(SANDBOX_GID),
    '--disable-userns',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    ...(mounts.network ? [] : ['--unshare-net']),
    '--die-with-parent',
    '--new-session',
    '--info-fd', String(fds.info),
    ...(fds.seccomp === undefined ? [] : ['--seccomp', String(fds.seccomp)]),
  ];
  for (const directory of layout.directories) args.push('--ro-bind', directory, directory);
  for (const [target, path] of layout.links) args.push('--symlink', target, path);
  for (const entry of ETC_ENTRIES) args.push('--ro-bind-try', entry, entry);
  args.push(
    '--perms', '0644', '--ro-bind-data', String(fds.passwd), '/etc/passwd',
    '--perms', '0644', '--ro-bind-data', String(fds.group), '/etc/group',
    '--proc', '/proc',
    '--dev', '/dev',
    '--tmpfs', '/tmp',
    '--tmpfs', '/var/tmp',
  );
  for (const path of mounts.readOnly) args.push('--ro-bind', path, path);
  args.push('--bind', mounts.home, mounts.home, '--bind', mounts.workspace, mounts.workspace, '--chdir', mounts.workspace);
  return args;
}

/** `/etc/passwd` and `/etc/group` of the sandbox: the agent's user and nobody else. */
export function identityFiles(home: string): { passwd: string; group: string } {
  return {
    passwd: `agent:x:${SANDBOX_UID}:${SANDBOX_GID}:agent:${home}:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
    group: `agent:x:${SANDBOX_GID}:\nnogroup:x:65534:\n`,
  };
}

/** Finds a program the way `execvp` would; null when it is not found. */
export function findExecutable(name: string, path = process.env.PATH ?? ''): string | null {
  if (name.includes('/')) return existsSync(name) ? name : null;
  for (const directory of path.split(delimiter)) {
    if (!directory) continue;
    const candidate = join(directory, name);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

const SYSTEM_PREFIXES = ['/usr/', '/bin/', '/sbin/', '/lib/', '/lib64/'];

/**
 * The host files a command needs to be visible in the sandbox: the program
 * (as found in the server's PATH, its real path when it is a link) and any
 * argument that is the absolute path of an existing file, when they are
 * outside the system. Directories are never added this way: a profile
 * names them in `readOnlyPaths`.
 */
export function commandPaths(program: string, args: string[], path = process.env.PATH): string[] {
  const paths = new Set<string>();
  const add = (candidate: string | null): void => {
    if (!candidate || !isAbsolute(candidate) || !isFile(candidate)) return;
    for (const resolved of new Set([candidate, realpathSync(candidate)])) {
      if (!SYSTEM_PREFIXES.some((prefix) => resolved.startsWith(prefix))) paths.add(resolved);
    }
  };
  add(findExecutable(program, path));
  for (const arg of args) add(arg);
  return [...paths];
}
