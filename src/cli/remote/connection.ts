import { createClient, type AutocodeClient } from '@autocode/client';
import { InvalidArgumentError } from 'commander';
import { resolveContext } from './contexts.js';

import { VERSION } from '../../metrics/version.js';

export interface Connection {
  client: AutocodeClient;
  server: string;
}

/** A client of the server the context (or AUTOCODE_SERVER/AUTOCODE_TOKEN) names. */
export function connect(context: string | undefined): Connection {
  const { server, token } = resolveContext(context);
  return { client: clientFor(server, token), server };
}

export function clientFor(server: string, token: string): AutocodeClient {
  return createClient({ baseUrl: server, token, headers: { 'user-agent': `autocode/${VERSION}` } });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** commander argument parsers: a bad value is a usage error naming it. */
export function runIdArgument(value: string): string {
  if (!UUID.test(value)) throw new InvalidArgumentError('a run id is a UUID (see `autocode runs list`)');
  return value;
}

export function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('a positive whole number is expected');
  return Number(value);
}

export function dollars(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0) throw new InvalidArgumentError('an amount of dollars such as 2.50 is expected');
  return Number(value);
}

export function keyValue(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf('=');
  if (at < 1) throw new InvalidArgumentError('expected key=value');
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
