/**
 * The daemon as one bundled file (src/dist/daemon.mjs), for `npm start` and `jinad serve`: Node then
 * reads one plain module instead of ~250 TypeScript files through tsx's loader, which was half of
 * a restart's time (~1 s of ~2–3 s). Built by esbuild when any source file changed since the
 * last build; checking takes a few milliseconds, a build about a second.
 *
 * The bundle is the core plus the built-in plugins, which the loader takes from it instead of
 * importing their folders (plugin folders of users are still imported: src/user-module.ts). Files
 * keep their own location: `import.meta.url` in each is replaced by the source file's URL, so
 * paths the code finds next to itself (migrations, assets, the runtime's sources) stay right.
 * Deno and most tests run the sources directly (test/bundle*.test.ts run the bundle).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const OUT_DIR = path.join(REPO, 'src', 'dist');
const OUT = path.join(OUT_DIR, 'daemon.mjs');
const STAMP = path.join(OUT_DIR, 'daemon.stamp');
/** What the bundle is made of: a change to any of these rebuilds it. */
const SOURCES = ['src', 'plugins'];
const SKIP = new Set(['dist', 'node_modules', 'test', 'assets']);

/** Every source file's path, size and modification time, in a stable order. */
function stamp() {
  const lines = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIP.has(e.name)) walk(p);
      } else if (/\.(ts|mjs|json)$/.test(e.name)) {
        const s = statSync(p);
        lines.push(`${path.relative(REPO, p)} ${s.size} ${s.mtimeMs}`);
      }
    }
  };
  lines.push(REPO); // the bundle names its files by their full path
  for (const s of SOURCES) walk(path.join(REPO, s));
  for (const f of ['package.json', 'package-lock.json']) lines.push(`${f} ${statSync(path.join(REPO, f)).mtimeMs}`);
  return lines.join('\n');
}

/** The plugins that ship with the daemon: the folders of plugins/ with an index.ts (as builtinPlugins() in src/plugin/loader.ts, which plain Node cannot import here). */
const builtins = () =>
  readdirSync(path.join(REPO, 'plugins'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && statSync(path.join(REPO, 'plugins', d.name, 'index.ts'), { throwIfNoEntry: false }))
    .map((d) => d.name)
    .sort();

async function build() {
  const { build: esbuild, transform } = await import('esbuild');
  const names = builtins();
  // The entry: the CLI's start of the daemon, with the built-in plugins handed to the loader.
  const entry = [
    `import { provideBuiltins } from './src/plugin/loader.ts';`,
    `import { runningBundled } from './src/user-module.ts';`,
    `runningBundled(import.meta.url);`,
    ...names.map((n, i) => `import p${i} from './plugins/${n}/index.ts';`),
    `provideBuiltins({ ${names.map((n, i) => `${JSON.stringify(n)}: p${i}`).join(', ')} });`,
    `export { serve } from './src/serve.ts';`,
    `export * from './src/plugin/index.ts';`,
  ].join('\n');
  // Each file's `import.meta.url` becomes the source file's URL (esbuild's define, so only the
  // expression changes, never text in a string), compiled with the project's tsconfig.
  const tsconfigRaw = readFileSync(path.join(REPO, 'tsconfig.json'), 'utf8');
  const keepUrls = {
    name: 'keep-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /\.(ts|mjs)$/ }, async (args) => {
        if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
        const out = await transform(readFileSync(args.path, 'utf8'), {
          loader: args.path.endsWith('.ts') ? 'ts' : 'js',
          format: 'esm',
          sourcefile: args.path,
          tsconfigRaw,
          define: { 'import.meta.url': JSON.stringify(pathToFileURL(args.path).href) },
        });
        return { contents: out.code, loader: 'js' };
      });
    },
  };
  // Modules that load big dependencies at start for features the daemon does not use: dockerode's
  // BuildKit sessions (gRPC and protobufjs, ~0.25 s) and docker-modem's SSH transport (ssh2, for
  // `ssh://` engines; ~0.07 s). Each is a function, required the first time it is called.
  const LAZY = { dockerode: './session', 'docker-modem': './ssh' };
  const lazy = {
    name: 'lazy-modules',
    setup(b) {
      b.onResolve({ filter: /^\.\/(session|ssh)$/ }, (args) => {
        const owner = Object.keys(LAZY).find((p) => LAZY[p] === args.path && args.importer.includes(`${path.sep}node_modules${path.sep}${p}${path.sep}`));
        return owner ? { path: path.join(args.resolveDir, `${args.path}.js`), namespace: 'lazy' } : undefined;
      });
      b.onLoad({ filter: /.*/, namespace: 'lazy' }, (args) => ({ contents: `const file = ${JSON.stringify(args.path)};\nmodule.exports = (...a) => require(file)(...a);`, loader: 'js' }));
    },
  };
  // Packages are bundled too: Node's module loader resolving, reading and compiling the hundreds
  // of files of drizzle-orm, hono, dockerode and the rest took ~0.2 s of every start (a CPU
  // profile of an empty daemon's start). Left where npm put them: native code (libSQL), packages
  // found by their own files (Swagger UI's assets; esbuild and tsx, which load users' modules),
  // and ws's optional native helpers, which are absent.
  const KEEP_EXTERNAL = new Set(['@libsql/client', 'libsql', 'swagger-ui-dist', 'esbuild', 'tsx', 'bufferutil', 'utf-8-validate']);
  const externals = {
    name: 'packages-external',
    setup(b) {
      const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8'));
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        const own = pkg.exports[args.path.replace(/^jinad/, '.')]; // the package importing itself ('jinad/plugin')
        if (own) return { path: path.join(REPO, own) };
        const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
        return Object.hasOwn(LAZY, args.path) || !KEEP_EXTERNAL.has(name) ? undefined : { path: args.path, external: true };
      });
    },
  };
  mkdirSync(OUT_DIR, { recursive: true });
  const tmp = `${OUT}.${process.pid}.tmp`;
  await esbuild({
    stdin: { contents: entry, resolveDir: REPO, sourcefile: 'daemon-entry.ts', loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outfile: tmp,
    plugins: [keepUrls, externals, lazy],
    logLevel: 'warning',
    banner: { js: "import { createRequire as __jinadRequire } from 'node:module'; const require = __jinadRequire(import.meta.url);" },
  });
  renameSync(tmp, OUT);
}

/** The bundle's path, built first when it is missing or older than a source file. */
export async function daemonBundle() {
  const now = stamp();
  let last = '';
  try {
    last = readFileSync(STAMP, 'utf8');
  } catch {
    // never built
  }
  if (last !== now) {
    await build();
    writeFileSync(`${STAMP}.${process.pid}.tmp`, now);
    renameSync(`${STAMP}.${process.pid}.tmp`, STAMP);
  }
  return OUT;
}

/**
 * The daemon's `serve`, from the bundle; from the sources through tsx when the bundle cannot be
 * written (a read-only installation), with a warning: slower to start, the same daemon.
 */
export async function loadServe() {
  let file;
  try {
    file = await daemonBundle();
  } catch (err) {
    if (!err?.syscall) throw err; // not a file system error: a broken source, say it
    process.stderr.write(`jinad: cannot write the daemon's bundle (${err.message}); running the sources instead\n`);
    (await import('tsx/esm/api')).register();
    return (await import('./serve.ts')).serve;
  }
  return (await import(file)).serve;
}
