import { randomUUID } from 'node:crypto';

/**
 * A UUIDv7 (RFC 9562): the first 48 bits are the Unix time in milliseconds, so
 * ids made later sort later and new rows land at the end of an index on them;
 * the other 74 bits are random. It is a random v4 UUID (Node's, which draws its
 * randomness in batches) with the time written over its first 12 hex digits
 * and the version digit set to 7; the variant bits are already RFC 9562's.
 * Ids of the same millisecond are in random order.
 */
export function uuidv7(now = Date.now()): string {
  const time = now.toString(16).padStart(12, '0');
  const random = randomUUID();
  return `${time.slice(0, 8)}-${time.slice(8)}-7${random.slice(15)}`;
}
