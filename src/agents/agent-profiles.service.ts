import { Injectable, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../config/configuration.js';
import { loadAgentCatalog } from './agent-profiles-file.js';
import type { AgentCatalog, AgentProfile } from './agent-profiles.js';

/** The agent profiles this server offers: built-ins plus `AGENTS_FILE`, validated at boot. */
@Injectable()
export class AgentProfilesService implements OnModuleInit {
  private catalog: AgentCatalog;
  private readonly file: string | null;
  private readonly allowSandboxOptOut: boolean;
  private readonly dataDir: string;

  constructor(config: ConfigService<AppConfig, true>) {
    this.file = config.get('agents.file', { infer: true });
    this.allowSandboxOptOut = config.get('sandbox.allowOptOut', { infer: true });
    this.dataDir = config.get('dataDir', { infer: true });
  }

  async onModuleInit(): Promise<void> {
    await this.reload();
  }

  /** Re-reads `AGENTS_FILE`; on error the profiles in force stay and the error is thrown. */
  async reload(): Promise<void> {
    this.catalog = await loadAgentCatalog(this.file, { allowSandboxOptOut: this.allowSandboxOptOut, dataDir: this.dataDir });
  }

  get defaultAgent(): string {
    return this.catalog.defaultAgent;
  }

  find(name: string): AgentProfile | undefined {
    return this.catalog.profiles.get(name);
  }

  list(): AgentProfile[] {
    return [...this.catalog.profiles.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}
