import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { Clock } from '../common/clock.js';
import { ProblemError } from '../common/problem.js';
import { Workspace, type ForgeKind } from '../workspace/entities/workspace.entity.js';
import { WorkspacesService } from '../workspace/workspaces.service.js';
import type { PutCredentialDto } from './dto/forge.dto.js';
import type { WorkspaceCredentialView } from './forge.view.js';
import { SecretsCipher } from './secrets-cipher.js';

/** A workspace's push credential, decrypted: held in memory only for the push or API call that needs it. */
export interface PushCredential {
  kind: 'token';
  token: string;
  username: string;
  updatedAt: string;
}

/** The user name git sends with a token when the client named none: what each forge documents for tokens over HTTP. */
function defaultUsername(kind: ForgeKind | undefined): string {
  if (kind === 'github') return 'x-access-token';
  if (kind === 'gitlab') return 'oauth2';
  return 'autocode';
}

/**
 * Push credentials of named workspaces, encrypted at rest (AES-256-GCM, bound to the workspace's
 * row). No route returns the token; it leaves this service only for a git child process's
 * environment and a forge API's Authorization header.
 */
@Injectable()
export class WorkspaceCredentialsService {
  private readonly logger = new Logger(WorkspaceCredentialsService.name);

  constructor(
    @InjectRepository(Workspace) private readonly rows: Repository<Workspace>,
    private readonly workspaces: WorkspacesService,
    private readonly cipher: SecretsCipher,
    private readonly clock: Clock,
  ) {}

  async put(userId: string, name: string, request: PutCredentialDto): Promise<WorkspaceCredentialView> {
    const workspace = await this.workspaces.find(userId, name);
    const credential: PushCredential = {
      kind: 'token',
      token: request.token,
      username: request.username ?? defaultUsername(workspace.forge?.kind),
      updatedAt: this.clock.now().toISOString(),
    };
    await this.rows.update({ id: workspace.id }, { credential: this.cipher.encrypt(JSON.stringify(credential), workspace.id) });
    return { kind: credential.kind, username: credential.username, updatedAt: credential.updatedAt };
  }

  async remove(userId: string, name: string): Promise<void> {
    const workspace = await this.workspaces.find(userId, name);
    await this.rows.update({ id: workspace.id }, { credential: null });
  }

  /** The workspace's credential, decrypted; null when it has none. */
  async read(workspace: Workspace): Promise<PushCredential | null> {
    const row = await this.rows.createQueryBuilder('workspace').addSelect('workspace.credential').where('workspace.id = :id', { id: workspace.id }).getOne();
    if (!row?.credential) return null;
    const plaintext = this.cipher.decrypt(row.credential, workspace.id);
    if (plaintext === null) {
      this.logger.warn(`the credential of workspace ${workspace.id} does not decrypt with this server's secrets key`);
      throw new ProblemError('credential_unreadable', `the credential of workspace "${workspace.name}" cannot be read with this server's secrets key (was SECRETS_KEY changed?); store it again`);
    }
    return JSON.parse(plaintext) as PushCredential;
  }
}
