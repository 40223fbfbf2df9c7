import { plainToInstance, Type } from 'class-transformer';
import {
  IsBooleanString,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  validateSync,
} from 'class-validator';

/** The git URL schemes an operator may allow for cloning workspaces. `ext::` and other remote helpers are never among them. */
export const REPO_SCHEMES = ['file', 'https', 'http', 'ssh', 'git'] as const;
const WORKSPACE_REPO_SCHEMES_PATTERN = new RegExp(`^\\s*(${REPO_SCHEMES.join('|')})\\s*(,\\s*(${REPO_SCHEMES.join('|')})\\s*)*$`);

/**
 * The environment the server reads, as API.md lists it. Every variable is
 * optional; defaults live in `configuration.ts`. A bad value stops the process
 * with one line that names the variable.
 */
export class EnvironmentVariables {
  @IsOptional() @IsString() @MinLength(1)
  HOST?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(65535)
  PORT?: number;

  @IsOptional() @IsString() @MinLength(1)
  DATA_DIR?: string;

  @IsOptional() @Matches(/^(postgres|postgresql):\/\/.+/, { message: 'must be a postgres:// URL or empty' })
  DATABASE_URL?: string;

  @IsOptional() @IsIn(['all', 'api', 'worker'])
  ROLE?: string;

  @IsOptional() @IsString() @MinLength(32, { message: 'must be at least 32 bytes' })
  JWT_SECRET?: string;

  @IsOptional() @IsString() @Matches(/-----BEGIN PUBLIC KEY-----/, { message: 'must be a PEM public key' })
  JWT_PUBLIC_KEY?: string;

  @IsOptional() @IsString() @MaxLength(512)
  JWT_ISSUER?: string;

  @IsOptional() @IsString() @MaxLength(512)
  JWT_AUDIENCE?: string;

  @IsOptional() @IsString() @MinLength(1)
  AGENTS_FILE?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1024)
  MAX_CONCURRENT_AGENTS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(7 * 24 * 3600)
  AGENT_TIMEOUT_SECONDS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(600)
  SHUTDOWN_GRACE_SECONDS?: number;

  @IsOptional() @IsIn(['free', 'standard', 'premium'])
  QUOTA_DEFAULT_TIER?: string;

  @IsOptional() @IsIn(['queue', 'reject'])
  QUOTA_OVERFLOW?: string;

  @IsOptional() @IsBooleanString()
  HEADLESS_MODE?: string;

  @IsOptional() @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])
  LOG_LEVEL?: string;

  @IsOptional() @IsIn(['json', 'pretty'])
  LOG_FORMAT?: string;

  @IsOptional() @IsBooleanString()
  HEALTH_DETAILED_PUBLIC?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(1_000_000)
  RATE_LIMIT_PER_MINUTE?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(3600)
  SHUTDOWN_TIMEOUT_SECONDS?: number;

  @IsOptional() @IsIn(['cancel', 'drain'])
  SHUTDOWN_MODE?: string;

  @IsOptional() @IsString() @MinLength(1)
  PID_FILE?: string;

  @IsOptional() @IsString() @MinLength(1)
  LOG_FILE?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(1_000_000)
  HEALTH_MIN_FREE_MB?: number;

  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9._-]{1,64}$/, { message: 'must be 1-64 letters, digits, dots, dashes or underscores' })
  NODE_NAME?: string;

  @IsOptional() @IsString() @Matches(WORKSPACE_REPO_SCHEMES_PATTERN, { message: `must be a comma-separated list of ${REPO_SCHEMES.join(', ')}` })
  WORKSPACE_REPO_SCHEMES?: string;

  @IsOptional() @IsString() @MinLength(1)
  WORKSPACE_FILE_ROOTS?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(24 * 365)
  WORKTREE_RETENTION_HOURS?: number;

  @IsOptional() @IsString() @MinLength(1)
  REDIS_URL?: string;

  // The agents' credentials: read by the executors from the environment, and kept out of the log.
  @IsOptional() @IsString() @MinLength(1)
  ANTHROPIC_API_KEY?: string;

  @IsOptional() @IsString() @MinLength(1)
  CLAUDE_CODE_OAUTH_TOKEN?: string;

  @IsOptional() @IsString() @MinLength(1)
  ANTHROPIC_BASE_URL?: string;

  @IsOptional() @IsString() @MinLength(1)
  OPENAI_API_KEY?: string;

  @IsOptional() @IsIn(['auto', 'bwrap', 'none'])
  SANDBOX?: string;

  @IsOptional() @IsBooleanString()
  SANDBOX_ALLOW_OPT_OUT?: string;

  @IsOptional() @IsString() @MinLength(1)
  SANDBOX_BWRAP?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(2 ** 32 - 2)
  SANDBOX_UID?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(2 ** 32 - 2)
  SANDBOX_GID?: number;

  @IsOptional() @IsBooleanString()
  WEBHOOK_ALLOW_PRIVATE_NETWORKS?: string;

  @IsOptional() @IsBooleanString()
  UI_ENABLED?: string;

  @IsOptional() @IsString() @MinLength(32, { message: 'must be at least 32 bytes' })
  SECRETS_KEY?: string;

  @IsOptional() @IsBooleanString()
  FORGE_ALLOW_PRIVATE_NETWORKS?: string;

  @IsOptional() @IsString() @Matches(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, { message: 'must be an http(s) URL without query or fragment' })
  PUBLIC_URL?: string;
}

export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

/** Empty strings mean "unset", as in a shell `VAR=` or an env file line without a value. */
function withoutEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') {
      out[key] = value;
    }
  }
  return out;
}

export function validateEnvironment(env: NodeJS.ProcessEnv): EnvironmentVariables {
  const variables = plainToInstance(EnvironmentVariables, withoutEmpty(env), { excludeExtraneousValues: false });
  const errors = validateSync(variables, { skipMissingProperties: false, forbidUnknownValues: false });
  if (errors.length > 0) {
    const first = errors[0]!;
    const reason = Object.values(first.constraints ?? {})[0] ?? 'is invalid';
    const message = reason.startsWith(first.property) ? reason.slice(first.property.length).trim() : reason;
    throw new ConfigurationError(`Invalid configuration: ${first.property} ${message} (got ${JSON.stringify(String(first.value))})`);
  }
  return variables;
}
