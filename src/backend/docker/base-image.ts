/**
 * The runtime base image every workspace image starts from, built here with no registry:
 * FROM scratch + this machine's Node.js (and the shared libraries `ldd` lists for it), npm,
 * a static busybox for a shell, the machine's CA bundle (so npm works behind a TLS-intercepting
 * proxy) and the jinad runtime with its packages (it runs every Flow, Pod and Pea container). The tag carries the daemon version and a hash of the inputs.
 * Config can name a prebuilt image instead (`baseImage: { strategy: 'image', name }`).
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { fail } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import { VERSION } from '../../version.ts';
import { type Engine, labelFilter } from './engine.ts';
import { buildFromTar, imageId, removeImage } from './images.ts';
import { LABEL } from './labels.ts';
import { OBJECT_UID } from './user.ts';
import { addFile, addFromDisk, addTree, createPack } from './tar.ts';

const RUNTIME_DIR = fileURLToPath(new URL('../../runtime', import.meta.url));
/**
 * The daemon client, which the runtime uses for remote Executors (it imports `../client`), and
 * the wire contract the client takes its types and schemas from.
 */
const CLIENT_DIR = fileURLToPath(new URL('../../client', import.meta.url));
const CONTRACT_DIR = fileURLToPath(new URL('../../contract', import.meta.url));
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];
/**
 * glibc's other runtime libraries, taken from beside libc: native addons (libSQL's, and those
 * of users' npm packages) link against them although `node` itself does not.
 */
const GLIBC_EXTRAS = ['librt.so.1', 'libresolv.so.2', 'libutil.so.1', 'libanl.so.1', 'libnss_dns.so.2', 'libnss_files.so.2'];

export interface BaseImage {
  /** The tag workspace Dockerfiles start FROM. */
  readonly tag: string;
  /** Make sure the image exists (built once per daemon when missing). */
  ensure(log?: (line: string) => void): Promise<string>;
  /** Remove (tagged) runtime base images of other versions that no image or container uses any more. */
  pruneStale(): Promise<number>;
}

const DOCKERFILE = `FROM scratch
COPY rootfs/ /
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /tmp /root /usr/bin /node_modules && chmod 1777 /tmp \\
 && ln -s /bin/env /usr/bin/env \\
 && ln -s /usr/lib/node_modules/npm/bin/npm-cli.js /usr/bin/npm \\
 && ln -s /usr/lib/node_modules/npm/bin/npx-cli.js /usr/bin/npx \\
 && ln -s /opt/jinad/runtime /node_modules/jinad \\
 && ln -s /opt/jinad/runtime/node_modules /opt/jinad/node_modules
# Bundle the runtime once, here, with the esbuild its TypeScript loader ships: a container's
# processes then read a few plain .mjs files and need no loader of their own (the partial daemon
# starts in ~0.16 s instead of ~0.46 s; Peas keep the loader for users' TypeScript executors).
RUN cd /opt/jinad/runtime && node_modules/esbuild/bin/esbuild cli.ts pea-worker.ts index.ts \
    --bundle --splitting --format=esm --platform=node --target=node20 --outdir=dist --out-extension:.js=.mjs --log-level=warning \
    --external:@grpc/grpc-js --external:@grpc/proto-loader \
    "--banner:js=import { createRequire as __jinadRequire } from 'node:module'; const require = __jinadRequire(import.meta.url);"
# Objects run as the unprivileged user ${OBJECT_UID} (named, so tools that look users up work), who
# owns /workspace itself: where no work directory is mounted over it (Swarm tasks run the image's
# own copy), executors make their folders there (a Python Executor's self.workspace).
RUN printf 'root:x:0:0:root:/root:/bin/sh\\njinad:x:${OBJECT_UID}:${OBJECT_UID}:jinad:/workspace:/bin/sh\\n' > /etc/passwd \
 && printf 'root:x:0:\\njinad:x:${OBJECT_UID}:\\n' > /etc/group \
 && mkdir -p /workspace && chown ${OBJECT_UID}:${OBJECT_UID} /workspace
ENV PATH=/usr/local/bin:/usr/bin:/bin HOME=/root \\
    NODE_EXTRA_CA_CERTS=${CA_BUNDLE} NPM_CONFIG_CAFILE=${CA_BUNDLE} \\
    NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
WORKDIR /workspace
`;

function hashTree(dir: string, h: ReturnType<typeof createHash>) {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.name === '__pycache__') continue; // Python's bytecode cache, made where the runtime ran
    if (e.isDirectory()) hashTree(p, h);
    else if (e.isFile()) h.update(e.name).update(readFileSync(p));
  }
}

/**
 * The packages the runtime needs (its package.json dependencies and theirs, optional ones
 * included when installed), as found in this installation's node_modules: name → folder.
 */
export function runtimeModules(): Map<string, string> {
  const repoModules = fileURLToPath(new URL('../../../node_modules', import.meta.url));
  const found = new Map<string, string>();
  const add = (name: string, from: string) => {
    const nested = path.join(from, 'node_modules', name);
    const dir = existsSync(nested) ? nested : path.join(repoModules, name);
    if (!existsSync(path.join(dir, 'package.json')) || found.has(name)) return;
    found.set(name, dir);
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    for (const dep of [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})]) add(dep, dir);
  };
  const runtimePkg = JSON.parse(readFileSync(path.join(RUNTIME_DIR, 'package.json'), 'utf8'));
  for (const name of Object.keys(runtimePkg.dependencies ?? {})) add(name, RUNTIME_DIR);
  return found;
}

/**
 * The Node.js the image carries: the one running the daemon, or, when the daemon runs on Deno
 * (whose `process.execPath` is the deno binary), the `node` on the PATH.
 */
function nodeBinary(): { path: string; version: string } | undefined {
  if (!('deno' in process.versions)) return { path: realpathSync(process.execPath), version: process.version };
  try {
    const found = realpathSync(execFileSync('sh', ['-c', 'command -v node'], { encoding: 'utf8' }).trim());
    return { path: found, version: execFileSync(found, ['--version'], { encoding: 'utf8' }).trim() };
  } catch {
    return undefined;
  }
}

/** The npm package folder next to this Node.js, if there is one. */
function findNpm(node: string): string | undefined {
  const candidates = [path.resolve(path.dirname(node), '../lib/node_modules/npm'), '/usr/lib/node_modules/npm', '/usr/local/lib/node_modules/npm'];
  return candidates.find((c) => existsSync(path.join(c, 'bin/npm-cli.js')));
}

async function sharedLibraries(binary: string): Promise<string[]> {
  try {
    const { stdout } = await promisify(execFile)('ldd', [binary]);
    return [...stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1]!);
  } catch {
    return []; // "not a dynamic executable": a static binary needs nothing
  }
}

export function createBaseImage(opts: { docker: Engine; strategy: { strategy: 'build' } | { strategy: 'image'; name: string }; log: Logger }): BaseImage {
  const { docker, strategy, log } = opts;
  if (strategy.strategy === 'image') {
    const tag = strategy.name;
    return {
      tag,
      async ensure() {
        if (!(await imageId(docker, tag))) {
          throw fail('base_image_missing', `the configured base image '${tag}' is not on this Docker Engine; pull or build it first`);
        }
        return tag;
      },
      pruneStale: async () => 0,
    };
  }

  const nodeBin = nodeBinary();
  const node = nodeBin?.path ?? '';
  const h = createHash('sha256').update(DOCKERFILE).update(GLIBC_EXTRAS.join()).update(nodeBin?.version ?? '').update(String(node ? statSync(node).size : 0));
  hashTree(RUNTIME_DIR, h);
  hashTree(CLIENT_DIR, h);
  hashTree(CONTRACT_DIR, h);
  const modules = runtimeModules();
  for (const [name, dir] of modules) h.update(`${name}@${JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).version}`);
  const tag = `jinad-runtime:${VERSION}-${h.digest('hex').slice(0, 12)}`;
  let building: Promise<string> | undefined;

  const build = async (onLine?: (line: string) => void): Promise<string> => {
    if (!node) throw fail('base_image_missing', 'building the runtime base image needs Node.js on this machine (`node` on the PATH), or configure baseImage: { strategy: "image", name }');
    const busybox = BUSYBOX_CANDIDATES.find((b) => existsSync(b));
    const npm = findNpm(node);
    if (!busybox) {
      throw fail('base_image_missing', 'building the runtime base image needs busybox on this machine: `apt-get install busybox-static`, or configure baseImage: { strategy: "image", name }');
    }
    if (!npm) throw fail('base_image_missing', `no npm found next to ${node}; install npm or configure a base image`);
    log.info(`building the runtime base image ${tag}`);
    const started = Date.now();
    const pack = createPack();
    const fill = (async () => {
      await addFile(pack, 'Dockerfile', DOCKERFILE);
      await addFromDisk(pack, node, 'rootfs/usr/local/bin/node');
      await addFromDisk(pack, busybox, 'rootfs/bin/busybox');
      const libs = new Set([...(await sharedLibraries(node)), ...(await sharedLibraries(busybox))]);
      const libc = [...libs].find((l) => /\/libc\.so\.6$/.test(l));
      for (const extra of libc ? GLIBC_EXTRAS.map((x) => path.join(path.dirname(libc), x)) : []) if (existsSync(extra)) libs.add(extra);
      for (const lib of libs) await addFromDisk(pack, lib, `rootfs${lib}`);
      if (existsSync(CA_BUNDLE)) await addFromDisk(pack, CA_BUNDLE, `rootfs${CA_BUNDLE}`);
      await addTree(pack, npm, 'rootfs/usr/lib/node_modules/npm');
      await addTree(pack, RUNTIME_DIR, 'rootfs/opt/jinad/runtime', (rel) => rel === 'node_modules' || rel.endsWith('.test.ts') || /(^|\/)__pycache__$/.test(rel));
      await addTree(pack, CLIENT_DIR, 'rootfs/opt/jinad/client', (rel) => rel.endsWith('.test.ts'));
      await addTree(pack, CONTRACT_DIR, 'rootfs/opt/jinad/contract', (rel) => rel.endsWith('.test.ts'));
      for (const [name, dir] of modules) await addTree(pack, dir, `rootfs/opt/jinad/runtime/node_modules/${name}`);
      pack.finalize();
    })();
    fill.catch((err) => pack.destroy(err));
    const built = await buildFromTar(docker, { context: pack, tag, labels: { [LABEL.kind]: 'base-image' }, onLine });
    await fill;
    log.info(`runtime base image ${tag} built in ${Date.now() - started} ms`);
    return built.imageId;
  };

  return {
    tag,
    async ensure(onLine) {
      if (await imageId(docker, tag)) return tag;
      building ??= build(onLine).finally(() => (building = undefined));
      await building;
      return tag;
    },
    async pruneStale() {
      const images = await docker.listImages({ filters: labelFilter({ [LABEL.kind]: 'base-image' }) });
      let removed = 0;
      for (const image of images.map((i) => ({ id: i.Id, tags: i.RepoTags ?? [], from: i.Labels?.[LABEL.from] }))) {
        // Only tagged base images of other versions (and Python images built on one). Untagged
        // images carrying the label are not told apart from the layers of builds in progress
        // (every layer built on the base image inherits its labels), so they are left alone.
        const stale = image.tags.filter((t) => (t.startsWith('jinad-runtime:') && t !== tag) || (t.startsWith('jinad-runtime-python:') && image.from !== tag));
        if (!stale.length || stale.length !== image.tags.length) continue;
        for (const t of stale) await removeImage(docker, t);
        // By id too: Docker refuses (409) while workspace images are built on it, and those stay.
        await removeImage(docker, image.id);
        if (!(await imageId(docker, image.id))) removed++;
      }
      return removed;
    },
  };
}
