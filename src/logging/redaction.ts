/**
 * Scrubs what must never reach a log line: bearer tokens (and anything that
 * looks like a JWT) and the configured secrets, wherever they appear in a
 * message or a logged value.
 */
export function makeScrubber(secrets: (string | null | undefined)[]): (text: string) => string {
  const known = secrets.filter((secret): secret is string => typeof secret === 'string' && secret.length >= 8);
  return (text) => {
    let out = text
      .replace(/(bearer\s+)[A-Za-z0-9._~+/=-]+/gi, '$1[redacted]')
      .replace(/eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, '[redacted-jwt]');
    for (const secret of known) out = out.split(secret).join('[redacted]');
    return out;
  };
}

/** The password of a database URL, if it has one. */
export function urlPassword(url: string | null): string | null {
  if (!url) return null;
  try {
    return decodeURIComponent(new URL(url).password) || null;
  } catch {
    return null;
  }
}
