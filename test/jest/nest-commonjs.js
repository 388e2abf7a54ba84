// Jest (before Node 24.9) cannot require() an ES module, and some Nest ecosystem packages the
// product uses (@nestjs/throttler among them) are CommonJS that
// require('@nestjs/common'), which Nest 12 ships as ESM only. Node itself handles that at run time
// (require(esm) since 20.19 / 22.12); under jest, every import of @nestjs/common and @nestjs/core
// — from ESM and CommonJS alike — is mapped to a CommonJS build of the installed version made
// here, so there is exactly one copy of each and class identity holds across packages.
// The same goes for content-disposition, an ES module that @fastify/static (the /docs UI's assets)
// require()s.
import { transformFileSync } from '@swc/core';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
export const NEST_PACKAGES = ['common', 'core'];
export const CACHE_DIR = join(root, 'node_modules', '.cache', 'nest-commonjs');
const CONTENT_DISPOSITION = 'content-disposition';

/** Where each package converted here is installed, keyed by its folder under CACHE_DIR. */
function sources() {
  const sources = Object.fromEntries(NEST_PACKAGES.map((pkg) => [pkg, join(root, 'node_modules', '@nestjs', pkg)]));
  // The copy @fastify/static itself resolves, wherever npm placed it.
  const fromStatic = createRequire(join(root, 'node_modules', '@fastify', 'static', 'index.js'));
  let dir = dirname(fromStatic.resolve(CONTENT_DISPOSITION));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  sources[CONTENT_DISPOSITION] = dir;
  return sources;
}

function version(source) {
  return JSON.parse(readFileSync(join(source, 'package.json'), 'utf8')).version;
}

function* files(dir) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* files(path);
    else yield path;
  }
}

export function buildNestCommonJs() {
  for (const [pkg, source] of Object.entries(sources())) {
    const target = join(CACHE_DIR, pkg);
    const stamp = join(target, '.version');
    if (existsSync(stamp) && readFileSync(stamp, 'utf8') === version(source)) continue;
    for (const file of files(source)) {
      const out = join(target, relative(source, file));
      mkdirSync(dirname(out), { recursive: true });
      if (!file.endsWith('.js')) {
        copyFileSync(file, out);
        continue;
      }
      const { code } = transformFileSync(file, {
        swcrc: false,
        jsc: { parser: { syntax: 'ecmascript' }, target: 'es2022' },
        module: { type: 'commonjs', ignoreDynamic: true, importInterop: 'node' },
      });
      writeFileSync(out, code.replaceAll('import.meta.url', "require('node:url').pathToFileURL(__filename).href"));
    }
    const manifest = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8'));
    delete manifest.type;
    delete manifest.exports;
    writeFileSync(join(target, 'package.json'), JSON.stringify({ ...manifest, type: 'commonjs' }, null, 2));
    writeFileSync(stamp, version(source));
  }
}

/** moduleNameMapper entries: `@nestjs/common`, `@nestjs/common/internal`, `@nestjs/common/x/y.js`, `content-disposition`. */
export function nestCommonJsModuleMap() {
  const map = { [`^${CONTENT_DISPOSITION}$`]: join(CACHE_DIR, CONTENT_DISPOSITION, 'dist', 'index.js') };
  for (const pkg of NEST_PACKAGES) {
    map[`^@nestjs/${pkg}$`] = join(CACHE_DIR, pkg, 'index.js');
    map[`^@nestjs/${pkg}/(.+?)(\\.js)?$`] = join(CACHE_DIR, pkg, '$1.js');
  }
  return map;
}
