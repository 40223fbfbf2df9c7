import { ProblemError } from '../common/problem.js';
import type { ForgeKind, WorkspaceForge } from '../workspace/entities/workspace.entity.js';
import type { WorkspaceForgeDto } from './dto/forge.dto.js';

/** The public services' REST APIs, used when a workspace's forge names no `apiUrl`. */
export const DEFAULT_API_URLS: Record<ForgeKind, string> = {
  github: 'https://api.github.com',
  gitlab: 'https://gitlab.com/api/v4',
};

/** The forge a workspace is created with, its API URL checked and made explicit. */
export function workspaceForge(request: WorkspaceForgeDto): WorkspaceForge {
  const raw = request.apiUrl ?? DEFAULT_API_URLS[request.kind];
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ProblemError('validation_failed', 'forge.apiUrl must be an absolute http or https URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ProblemError('validation_failed', 'forge.apiUrl must be an http or https URL');
  if (url.username || url.password) {
    throw new ProblemError('validation_failed', 'forge.apiUrl must not carry credentials; store a token with PUT /api/v1/workspaces/{name}/credentials');
  }
  if (url.search || url.hash) throw new ProblemError('validation_failed', 'forge.apiUrl cannot have a query or fragment');
  if (request.kind === 'github' && request.repository.split('/').length !== 2) {
    throw new ProblemError('validation_failed', 'forge.repository must be owner/repo on GitHub');
  }
  return { kind: request.kind, apiUrl: url.href.replace(/\/+$/, ''), repository: request.repository };
}
