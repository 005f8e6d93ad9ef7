// Loader hooks for users' TypeScript: executors in containers, where the runtime itself is bundled
// (see bootstrap-container.mjs), and jinad.config.ts and plugin folders of the bundled daemon
// (src/user-module.ts). The runtime's tsx does the same elsewhere; here only what these need, for
// a faster start (~0.2 s less per Pea, measured in bench/serverless.ts):
// - `.ts`/`.tsx`/`.mts` files are compiled by esbuild with the nearest tsconfig.json, and kept by
//   content in the temporary folder (a container's own /tmp), so a restarted or woken object
//   compiles nothing (esbuild is not even loaded then);
// - relative imports written as TypeScript does (`./util.js` for util.ts, `./util`, `./dir`)
//   find the .ts file.
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TS = /\.(ts|tsx|mts)$/;
const CACHE = path.join(tmpdir(), `jinad-ts-${process.getuid?.() ?? 0}`);
let esbuild; // loaded on the first file not compiled before

/**
 * The cache is used only if it is this user's own directory that no one else can write: /tmp is
 * shared on a host (the daemon loads its config through this loader), and code found there runs.
 */
let cacheOk;
function cacheUsable() {
  if (cacheOk !== undefined) return cacheOk;
  try {
    mkdirSync(CACHE, { recursive: true, mode: 0o700 });
    const st = lstatSync(CACHE);
    cacheOk = st.isDirectory() && (process.getuid === undefined || st.uid === process.getuid()) && (st.mode & 0o022) === 0;
  } catch {
    cacheOk = false;
  }
  return cacheOk;
}

function candidates(specifier) {
  if (/\.(m?js|jsx)$/.test(specifier)) return [specifier.replace(/\.js$/, '.ts').replace(/\.mjs$/, '.mts').replace(/\.jsx$/, '.tsx')];
  if (!path.extname(specifier)) return [`${specifier}.ts`, `${specifier}.tsx`, `${specifier}/index.ts`];
  return [];
}

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    const relative = specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:');
    if (!relative || !context.parentURL || !['ERR_MODULE_NOT_FOUND', 'ERR_UNSUPPORTED_DIR_IMPORT'].includes(err?.code)) throw err;
    for (const c of candidates(specifier)) {
      const url = new URL(c, context.parentURL);
      if (existsSync(url)) return next(url.href, context);
    }
    throw err;
  }
}

function tsconfigOf(file) {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const p = path.join(dir, 'tsconfig.json');
    if (existsSync(p)) return readFileSync(p, 'utf8');
    if (dir === path.dirname(dir)) return undefined;
  }
}

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !TS.test(url)) return next(url, context);
  const file = fileURLToPath(url);
  const source = readFileSync(file, 'utf8');
  const tsconfig = tsconfigOf(file);
  const key = createHash('sha256').update(file).update('\0').update(source).update('\0').update(tsconfig ?? '').digest('hex');
  const cached = path.join(CACHE, `${key}.mjs`);
  if (cacheUsable() && existsSync(cached)) return { format: 'module', source: readFileSync(cached, 'utf8'), shortCircuit: true };
  esbuild ??= await import('esbuild');
  const out = await esbuild.transform(source, {
    loader: file.endsWith('.tsx') ? 'tsx' : 'ts',
    format: 'esm',
    target: `node${process.versions.node.split('.')[0]}`,
    sourcemap: 'inline',
    sourcefile: file,
    ...(tsconfig && { tsconfigRaw: tsconfig }),
  });
  if (cacheUsable()) {
    const tmp = `${cached}.${process.pid}`;
    writeFileSync(tmp, out.code, { mode: 0o600 });
    renameSync(tmp, cached); // whole or absent, even with replicas compiling at once
  }
  return { format: 'module', source: out.code, shortCircuit: true };
}
