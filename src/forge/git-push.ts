import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { git, GitError, PUSH_TIMEOUT_MS } from '../workspace/git.js';
import type { PushCredential } from './credentials.service.js';

/**
 * A credential helper that answers git's `get` from two variables of the git process's own
 * environment, and stores or erases nothing. It is given on git's command line: the token itself
 * is never an argument, never in a remote URL and never written to any file.
 */
const CREDENTIAL_HELPER = '!f() { test "$1" = get || exit 0; printf \'username=%s\\npassword=%s\\n\' "$AUTOCODE_PUSH_USERNAME" "$AUTOCODE_PUSH_TOKEN"; }; f';

export interface PushRequest {
  /** The workspace's repository (its `.git` directory), whose objects are pushed. */
  gitDir: string;
  /** The commit to push. */
  commit: string;
  /** The branch to create or update on the remote. */
  branch: string;
  remoteUrl: string;
  /** The transport git may use (the remote URL's scheme). */
  scheme: string;
  credential: PushCredential | null;
}

/**
 * Pushes `commit` to `branch` of the remote from a scratch repository that borrows the
 * workspace's objects (git alternates). The workspace's own configuration, which an agent running
 * unsandboxed could have edited (`url.*.insteadOf`, `credential.helper`, `http.proxy`, `remote.*`),
 * takes no part in a push that carries a credential; the only helper git asks is the one above,
 * after an empty `credential.helper` has cleared any other.
 */
export async function pushCommit(request: PushRequest): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), 'autocode-push-'));
  try {
    await git(['init', '--quiet', '--bare', '--', scratch]);
    await writeFile(join(scratch, 'objects', 'info', 'alternates'), `${await realpath(join(request.gitDir, 'objects'))}\n`);
    const credential = request.credential;
    await git(
      [
        '-c',
        'credential.helper=',
        ...(credential ? ['-c', `credential.helper=${CREDENTIAL_HELPER}`] : []),
        '-c',
        'credential.interactive=false',
        '-c',
        'http.followRedirects=false',
        'push',
        '--quiet',
        '--no-verify',
        '--',
        request.remoteUrl,
        `${request.commit}:refs/heads/${request.branch}`,
      ],
      {
        cwd: scratch,
        timeoutMs: PUSH_TIMEOUT_MS,
        protocols: [request.scheme],
        env: {
          GIT_DIR: scratch,
          ...(credential ? { AUTOCODE_PUSH_USERNAME: credential.username, AUTOCODE_PUSH_TOKEN: credential.token } : {}),
        },
      },
    );
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Git's message with every form of the credential a message could carry blanked out. */
export function scrubbed(error: GitError, secrets: readonly string[]): string {
  let message = error.message;
  const forms = secrets.flatMap((secret) => [secret, encodeURIComponent(secret)]).filter((form) => form.length > 0);
  for (const form of [...new Set(forms)].sort((a, b) => b.length - a.length)) message = message.split(form).join('***');
  return message;
}

/** The ways a credential could appear in git's output: the token, and the Basic authorization it makes. */
export function credentialForms(credential: PushCredential | null): string[] {
  if (!credential) return [];
  return [credential.token, Buffer.from(`${credential.username}:${credential.token}`).toString('base64')];
}
