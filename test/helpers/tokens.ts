import { createHmac } from 'node:crypto';

/** An HS256 JWT signed by hand with `secret`, valid for an hour unless `claims` say otherwise: what a server with that JWT_SECRET accepts. */
export function hs256Token(secret: string, claims: Record<string, unknown>): string {
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims })}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}
