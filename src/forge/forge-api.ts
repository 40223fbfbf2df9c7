import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { ProblemError } from '../common/problem.js';
import { VERSION } from '../metrics/version.js';
import { AddressNotAllowedError, guardedLookup, isPrivateAddress } from '../webhooks/address-guard.js';
import type { WorkspaceForge } from '../workspace/entities/workspace.entity.js';

/** A forge has this long to answer. */
const FORGE_TIMEOUT_MS = 30_000;
/** How much of its answer is read. */
const MAX_ANSWER_BYTES = 256 * 1024;

export interface PullRequestProposal {
  title: string;
  body: string;
  /** The pushed branch. */
  head: string;
  base: string;
  draft: boolean;
}

export interface OpenedOnForge {
  url: string;
  number: number;
}

interface ForgeCall {
  path: string;
  body: Record<string, unknown>;
  headers: Record<string, string>;
  /** The pull request in the forge's answer. */
  read(answer: Record<string, unknown>): OpenedOnForge | null;
}

/**
 * GitHub: `POST /repos/{owner}/{repo}/pulls`. GitLab: `POST /projects/:id/merge_requests`, the
 * project named by its URL-encoded path; a draft is a title starting with `Draft:`, as GitLab has it.
 */
function callOf(forge: WorkspaceForge, token: string, proposal: PullRequestProposal): ForgeCall {
  if (forge.kind === 'github') {
    const [owner, repo] = forge.repository.split('/').map(encodeURIComponent);
    return {
      path: `/repos/${owner}/${repo}/pulls`,
      body: { title: proposal.title, head: proposal.head, base: proposal.base, body: proposal.body, draft: proposal.draft },
      headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' },
      read: (answer) => (typeof answer.html_url === 'string' && Number.isInteger(answer.number) ? { url: answer.html_url, number: answer.number as number } : null),
    };
  }
  return {
    path: `/projects/${encodeURIComponent(forge.repository)}/merge_requests`,
    body: {
      source_branch: proposal.head,
      target_branch: proposal.base,
      title: proposal.draft ? `Draft: ${proposal.title}` : proposal.title,
      description: proposal.body,
    },
    headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    read: (answer) => (typeof answer.web_url === 'string' && Number.isInteger(answer.iid) ? { url: answer.web_url, number: answer.iid as number } : null),
  };
}

/** The forge's own explanation of a refusal: GitHub's `message` and `errors`, GitLab's `message` or `error`. */
function reasonOf(answer: unknown, text: string): string {
  if (answer && typeof answer === 'object') {
    const { message, error, errors } = answer as { message?: unknown; error?: unknown; errors?: unknown };
    const parts: string[] = [];
    const add = (value: unknown): void => {
      if (typeof value === 'string') parts.push(value);
      else if (Array.isArray(value)) value.forEach(add);
      else if (value && typeof value === 'object') {
        const entry = value as { message?: unknown; code?: unknown; field?: unknown };
        if (typeof entry.message === 'string') parts.push(entry.message);
        else if (typeof entry.code === 'string') parts.push([entry.field, entry.code].filter((part) => typeof part === 'string').join(' '));
        else parts.push(JSON.stringify(value));
      }
    };
    add(message);
    add(error);
    add(errors);
    if (parts.length > 0) return parts.join('; ');
  }
  return text.slice(0, 500);
}

/**
 * Opens the pull request (GitHub) or merge request (GitLab) through the forge's REST API. The
 * token goes in the Authorization header only; redirects are not followed; unless private networks
 * are allowed, a host that is, or resolves to, a private address is refused at connect time.
 */
export async function openOnForge(forge: WorkspaceForge, token: string, proposal: PullRequestProposal, allowPrivate: boolean): Promise<OpenedOnForge> {
  const call = callOf(forge, token, proposal);
  const url = new URL(forge.apiUrl + call.path);
  const name = forge.kind === 'github' ? 'GitHub' : 'GitLab';
  const fail = (detail: string, status?: number): ProblemError =>
    new ProblemError('forge_request_failed', detail.split(token).join('***'), { extensions: status === undefined ? {} : { forgeStatus: status } });
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivate && isIP(host) && isPrivateAddress(host)) {
    throw fail(`${name} API at ${url.host} is a private, loopback or link-local address; this server refuses those (FORGE_ALLOW_PRIVATE_NETWORKS)`);
  }
  const payload = JSON.stringify(call.body);
  let answer: { status: number; text: string };
  try {
    answer = await new Promise((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const request = send(
        url,
        {
          method: 'POST',
          headers: { ...call.headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)), 'user-agent': `auto-code-server/${VERSION}` },
          lookup: guardedLookup(allowPrivate),
          timeout: FORGE_TIMEOUT_MS,
          // A connection of its own each time: every one goes through the guarded lookup, and none is kept open.
          agent: false,
        },
        (response: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            if (size < MAX_ANSWER_BYTES) chunks.push(chunk);
            size += chunk.length;
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8').slice(0, MAX_ANSWER_BYTES) }));
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error(`no answer within ${FORGE_TIMEOUT_MS / 1000} s`)));
      request.on('error', reject);
      request.end(payload);
    });
  } catch (error) {
    if (error instanceof AddressNotAllowedError) throw fail(`${name} API: ${error.message}; this server refuses those (FORGE_ALLOW_PRIVATE_NETWORKS)`);
    throw fail(`${name} API at ${url.host} could not be reached: ${(error as Error).message}`);
  }
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(answer.text);
  } catch {
    parsed = null;
  }
  if (answer.status !== 201 && answer.status !== 200) {
    throw fail(`${name} refused the ${forge.kind === 'github' ? 'pull request' : 'merge request'} (HTTP ${answer.status}): ${reasonOf(parsed, answer.text)}`, answer.status);
  }
  const opened = parsed && typeof parsed === 'object' ? call.read(parsed as Record<string, unknown>) : null;
  if (!opened) throw fail(`${name} answered HTTP ${answer.status} without the ${forge.kind === 'github' ? 'pull request' : 'merge request'}'s number and URL`, answer.status);
  return opened;
}
