import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const REQUIRE_CONDITIONS = ['require', 'node', 'default'];

/**
 * The packages under `node_modules` (scoped and nested ones too, as paths such as
 * `@nestjs/core` or `a/node_modules/b`) whose entry point
 * `require()` cannot load without Node's own ESM support: the file their `exports` (under the
 * `require`, `node` and `default` conditions) or `main` lead to is an ES module by its extension
 * or by the nearest package.json's `type`. Jest's CommonJS loader needs those compiled.
 */
export function esmOnlyPackages(nodeModules) {
  const names = new Set();
  const top = typeof nodeModules === 'string' ? nodeModules : fileURLToPath(nodeModules);
  const visit = (dir) => {
    for (const entry of safeReaddir(dir)) {
      if (entry.startsWith('.')) continue;
      if (entry.startsWith('@')) {
        for (const scoped of safeReaddir(join(dir, entry))) inspect(join(dir, entry, scoped));
      } else {
        inspect(join(dir, entry));
      }
    }
  };
  const inspect = (root) => {
    const manifest = readJson(join(root, 'package.json'));
    if (manifest && requiresEsm(root, manifest)) names.add(relative(top, root).split(sep).join('/'));
    visit(join(root, 'node_modules'));
  };
  visit(top);
  return [...names].sort();
}

/** Whether the file `require(name)` would load from this package is an ES module; a package with no entry (types only, binaries) is not. */
export function requiresEsm(root, manifest) {
  const entry = requireEntry(manifest);
  if (entry === null) return false;
  if (entry.endsWith('.mjs')) return true;
  if (entry.endsWith('.cjs') || !entry.endsWith('.js')) return false;
  return moduleType(root, join(root, entry)) === 'module';
}

function requireEntry(manifest) {
  if (manifest.exports !== undefined && manifest.exports !== null) {
    const target = resolveTarget(rootExport(manifest.exports));
    return target ?? null;
  }
  const main = typeof manifest.main === 'string' ? manifest.main : 'index.js';
  return /\.[cm]?js$/.test(main) ? main : `${main.replace(/\/$/, '')}${main.endsWith('/') ? '/index.js' : '.js'}`;
}

function rootExport(exports) {
  if (typeof exports === 'string' || Array.isArray(exports)) return exports;
  const keys = Object.keys(exports);
  if (keys.some((key) => key.startsWith('.'))) return exports['.'];
  return exports;
}

function resolveTarget(target) {
  if (typeof target === 'string') return target;
  if (Array.isArray(target)) {
    for (const option of target) {
      const found = resolveTarget(option);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (target === null || typeof target !== 'object') return undefined;
  for (const [condition, value] of Object.entries(target)) {
    if (!REQUIRE_CONDITIONS.includes(condition)) continue;
    const found = resolveTarget(value);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The `type` of the package.json nearest to a file, as Node reads it (nested ones in dist folders count). */
function moduleType(root, file) {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const manifest = existsSync(join(dir, 'package.json')) ? readJson(join(dir, 'package.json')) : null;
    if (manifest && typeof manifest.type === 'string') return manifest.type;
    if (dir === root || relative(root, dir).startsWith(`..${sep}`) || dirname(dir) === dir) return 'commonjs';
  }
}

function safeReaddir(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** A `transformIgnorePatterns` entry: everything in `node_modules` except these packages' own files. */
export function ignoreAllBut(packages) {
  const escaped = packages.map((path) => path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  return `^<rootDir>/node_modules/(?!(?:${escaped.join('|')})/(?!node_modules/))`;
}
