import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The paths of the dashboard's pages, as its router knows them: each answers `index.html`, and
 * the app shows the page. Anything else outside the API is the usual 404.
 */
export const DASHBOARD_PAGES = ['/', '/sign-in', '/login', '/runs/:id', '/workspaces', '/quota', '/users', '/nodes'] as const;

/**
 * Only files of this origin: no inline script or style, nothing from elsewhere, not framed.
 * `style-src` allows what scripts set through the CSSOM (React's `style` props), which CSP does
 * not govern, and nothing inline in the HTML.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

/** Built files under `assets/` have a content hash in their names: they never change, so browsers keep them a year. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Everything else (index.html above all) is checked with the server on every use, so a new build shows at once. */
const REVALIDATE = 'no-cache';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

interface StaticFile {
  body: Buffer;
  gzip?: Buffer;
  brotli?: Buffer;
  type: string;
  etag: string;
  cacheControl: string;
}

/** The built dashboard: `dist/web` of the project this module belongs to, whether it runs from `src/`, `dist/` or a bundle chunk. */
export function dashboardRoot(): string | null {
  for (let dir = new URL('.', import.meta.url); ; dir = new URL('..', dir)) {
    const path = fileURLToPath(dir);
    if (existsSync(join(path, 'package.json'))) return join(path, 'dist', 'web');
    if (dir.pathname === '/') return null;
  }
}

/** Every file of the build, read once at start (a few hundred KB), with the compressed copies the build wrote beside it. */
function loadFiles(root: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) {
        visit(path);
        continue;
      }
      const type = TYPES[extname(entry)];
      if (!type) continue;
      const urlPath = '/' + relative(root, path).split(sep).join('/');
      const body = readFileSync(path);
      const sibling = (suffix: string): Buffer | undefined => (existsSync(path + suffix) ? readFileSync(path + suffix) : undefined);
      files.set(urlPath, {
        body,
        gzip: sibling('.gz'),
        brotli: sibling('.br'),
        type,
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
        cacheControl: urlPath.startsWith('/assets/') ? IMMUTABLE : REVALIDATE,
      });
    }
  };
  visit(root);
  return files;
}

function send(request: FastifyRequest, reply: FastifyReply, file: StaticFile): void {
  void reply.headers(SECURITY_HEADERS).header('cache-control', file.cacheControl).header('etag', file.etag).header('vary', 'accept-encoding');
  if (request.headers['if-none-match'] === file.etag) {
    void reply.code(304).send();
    return;
  }
  const accepted = String(request.headers['accept-encoding'] ?? '');
  const [encoding, body] = file.brotli && /\bbr\b/.test(accepted) ? ['br', file.brotli] : file.gzip && /\bgzip\b/.test(accepted) ? ['gzip', file.gzip] : [null, file.body];
  if (encoding) void reply.header('content-encoding', encoding);
  void reply.type(file.type).send(body);
}

/**
 * Serves the built dashboard at `/`: its pages answer `index.html`, its files come from memory.
 * Returns false, serving nothing, when the dashboard has not been built.
 */
export function serveDashboard(app: NestFastifyApplication, root: string | null = dashboardRoot()): boolean {
  if (!root || !existsSync(join(root, 'index.html'))) return false;
  const files = loadFiles(root);
  const index = files.get('/index.html')!;
  const fastify = app.getHttpAdapter().getInstance();
  for (const page of DASHBOARD_PAGES) fastify.get(page, (request, reply) => send(request, reply, index));
  for (const [path, file] of files) if (path !== '/index.html') fastify.get(path, (request, reply) => send(request, reply, file));
  return true;
}
