/** Secrets shorter than this are not redacted: they would blank out ordinary words of every line. */
const MIN_SECRET_LENGTH = 8;

// Spelled out rather than with the `i` flag or a lookbehind, either of which made the scan about ten times slower.
const BEARER = String.raw`[Bb][Ee][Aa][Rr][Ee][Rr]\s+[A-Za-z0-9._~+/=-]+`;
const JWT = String.raw`eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*`;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/**
 * Scrubs what must never reach a log line: bearer tokens (and anything that
 * looks like a JWT) and the configured secrets, wherever they appear. It runs
 * once over each serialized line (pino's `streamWrite` hook), so a secret is
 * caught in a message, a nested field or an error alike; each secret is looked
 * for as it is and as JSON escapes it inside a string. One regular expression
 * makes it a single scan of the line.
 */
export function makeScrubber(secrets: readonly (string | null | undefined)[]): (line: string) => string {
  const known = new Set<string>();
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) continue;
    known.add(secret);
    known.add(JSON.stringify(secret).slice(1, -1));
  }
  // Longest first, so that a secret containing another is replaced whole.
  const literals = [...known].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const pattern = new RegExp([...literals, BEARER, JWT].join('|'), 'g');
  return (line) => line.replace(pattern, '[redacted]');
}
