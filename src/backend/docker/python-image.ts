/**
 * The Python-enabled variant of the runtime base image, for workspaces that bring Python (a
 * `.jinad` `python = 3.x`, or a requirements file): FROM the base image, plus this machine's
 * Python 3 — its interpreter, standard library (with venv and ensurepip), pip, and the shared
 * libraries they load — under the same paths it has here, `python3`/`python`/`pip3`/`pip` on
 * the PATH. Python Executors get the runtime's `jina` package (src/runtime/python, on the path by
 * a .pth file, and known to pip as installed), numpy and msgpack: the interpreter's own, else
 * Debian's (python3-numpy, python3-msgpack) when their C modules are built for this interpreter's
 * ABI, with the shared libraries they load (BLAS, LAPACK, gfortran). Built once, with no registry,
 * like the base image; its tag carries the base image's tag, the Python version and those packages.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { fail } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import type { Engine } from './engine.ts';
import { buildFromTar, imageId } from './images.ts';
import { LABEL } from './labels.ts';
import { addFile, addFromDisk, addTree, createPack } from './tar.ts';

const run = promisify(execFile);
/** The Jina API version the runtime's `jina` package follows (its __version__). */
const JINA_VERSION = '2.0.0';

interface HostPython {
  executable: string;
  version: string;
  /** `lib/python3.X` of its prefix: the standard library. */
  stdlib: string;
  /** Its site-packages, where pip lives. */
  purelib: string;
  /** The suffix of its C modules, e.g. `.cpython-311-x86_64-linux-gnu.so`. */
  extSuffix: string;
  /** Where it imports each of EXTRAS from ('' where it has none). */
  packages: Record<string, string>;
}

/** Packages Python Executors use that the image brings (see extraPackages). */
const EXTRAS = ['numpy', 'msgpack'];
const DEBIAN_PACKAGES = '/usr/lib/python3/dist-packages';
/** Where the runtime's `jina` package is inside the image (the base image has the runtime at /opt/jinad/runtime). */
const JINA_IN_IMAGE = '/opt/jinad/runtime/python';

/** This machine's Python 3 (`python3` on the PATH), as it describes itself; undefined when there is none. */
async function hostPython(): Promise<HostPython | undefined> {
  try {
    const { stdout } = await run('python3', ['-c', `import importlib.util as u, json, sys, sysconfig; p = sysconfig.get_paths(); s = {n: u.find_spec(n) for n in ${JSON.stringify(EXTRAS)}}; print(json.dumps({"executable": sys.executable, "version": "%d.%d.%d" % sys.version_info[:3], "stdlib": p["stdlib"], "purelib": p["purelib"], "extSuffix": sysconfig.get_config_var("EXT_SUFFIX") or "", "packages": {n: (x.submodule_search_locations[0] if x and x.submodule_search_locations else "") for n, x in s.items()}}))`]);
    const found = JSON.parse(stdout) as HostPython;
    return { ...found, executable: realpathSync(found.executable) };
  } catch {
    return undefined;
  }
}

/** Every file below a folder whose name ends with `suffix`. */
function filesEnding(dir: string, suffix: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile() && e.name.endsWith(suffix)).map((e) => path.join(e.parentPath, e.name));
}

/**
 * numpy and msgpack for the image: each package's folder as the interpreter imports it, else
 * Debian's when every C module there is built for this interpreter (same EXT_SUFFIX); missing
 * ones are left out (text-only Executors need no numpy; the worker names what is missing).
 */
function extraPackages(py: HostPython): { name: string; dir: string }[] {
  const found: { name: string; dir: string }[] = [];
  for (const name of EXTRAS) {
    let dir = py.packages[name] || undefined;
    const debian = path.join(DEBIAN_PACKAGES, name);
    if (!dir && existsSync(debian)) {
      const modules = filesEnding(debian, '.so');
      if (modules.every((m) => m.endsWith(py.extSuffix))) dir = debian;
    }
    if (dir) found.push({ name, dir: realpathSync(dir) });
  }
  return found;
}

async function sharedLibraries(file: string): Promise<string[]> {
  try {
    const { stdout } = await run('ldd', [file]);
    return [...stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1]!);
  } catch {
    return [];
  }
}

/** What of the standard library an image needs: not its tests, IDEs, GUI toolkits or third-party packages. */
const SKIP = /^(site-packages|test|tests|idlelib|tkinter|turtledemo|lib2to3\/tests|unittest\/test|config-[^/]*)(\/|$)/;
/** Of site-packages: pip (and setuptools, to build a package that has no wheel). */
const KEEP_PACKAGES = /^(pip|setuptools|_distutils_hack|pkg_resources)([-_.][^/]*)?$|^distutils-precedence\.pth$/;

export interface PythonImage {
  /** Make sure it exists; its tag. */
  ensure(baseTag: string, onLine?: (line: string) => void): Promise<string>;
}

export function createPythonImage(opts: { docker: Engine; log: Logger }): PythonImage {
  const building = new Map<string, Promise<string>>();

  async function build(baseTag: string, py: HostPython, extras: { name: string; dir: string }[], tag: string, onLine?: (line: string) => void): Promise<string> {
    opts.log.info(`building the Python runtime image ${tag} (Python ${py.version} from ${py.executable})`);
    const started = Date.now();
    const pack = createPack();
    const fill = (async () => {
      const minor = py.version.split('.').slice(0, 2).join('.');
      await addFile(
        pack,
        'Dockerfile',
        `FROM ${baseTag}
COPY rootfs/ /
RUN ln -sf ${py.executable} /usr/local/bin/python3 && ln -sf ${py.executable} /usr/local/bin/python \\
 && ln -sf ${py.executable} /usr/local/bin/python${minor} \\
 && printf '#!/bin/sh\\nexec python3 -m pip "$@"\\n' > /usr/local/bin/pip3 && chmod 755 /usr/local/bin/pip3 && ln -sf pip3 /usr/local/bin/pip \\
 && python3 -c "import ssl, venv, ensurepip, sqlite3, ctypes, jina" && pip3 --version
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
`,
      );
      await addFromDisk(pack, py.executable, `rootfs${py.executable}`);
      await addTree(pack, py.stdlib, `rootfs${py.stdlib}`, (rel) => SKIP.test(rel) || /(^|\/)__pycache__(\/|$)/.test(rel));
      if (existsSync(py.purelib)) await addTree(pack, py.purelib, `rootfs${py.purelib}`, (rel) => !KEEP_PACKAGES.test(rel.split('/')[0]!) || /(^|\/)__pycache__(\/|$)/.test(rel));
      // numpy and msgpack in its site-packages; the runtime's `jina` on its path, and installed as far as pip can tell.
      const extraModules: string[] = [];
      for (const { name, dir } of extras) {
        await addTree(pack, dir, `rootfs${py.purelib}/${name}`, (rel) => /(^|\/)(__pycache__|tests)(\/|$)/.test(rel));
        // Its metadata too, so pip sees it installed (a requirements.txt naming numpy is satisfied, not fetched).
        for (const meta of readdirSync(path.dirname(dir)).filter((f) => new RegExp(`^${name}-[0-9][^/]*\\.(dist|egg)-info$`, 'i').test(f))) {
          await addTree(pack, path.join(path.dirname(dir), meta), `rootfs${py.purelib}/${meta}`);
        }
        extraModules.push(...filesEnding(dir, '.so'));
      }
      await addFile(pack, `rootfs${py.purelib}/jinad-jina.pth`, `${JINA_IN_IMAGE}\n`);
      const info = `rootfs${py.purelib}/jina-${JINA_VERSION}.dist-info`;
      await addFile(pack, `${info}/METADATA`, `Metadata-Version: 2.1\nName: jina\nVersion: ${JINA_VERSION}\nSummary: the jinad runtime's Jina 2 Executor API (${JINA_IN_IMAGE})\n`);
      await addFile(pack, `${info}/INSTALLER`, 'jinad\n');
      await addFile(pack, `${info}/RECORD`, '');
      // The interpreter's libraries (libpython when it is shared) and those of its C modules (ssl, sqlite3, ctypes, …, numpy's).
      const dynload = path.join(py.stdlib, 'lib-dynload');
      const modules = [...(existsSync(dynload) ? readdirSync(dynload).filter((f) => f.endsWith('.so')).map((f) => path.join(dynload, f)) : []), ...extraModules];
      const libs = new Set<string>();
      for (const file of [py.executable, ...modules]) for (const lib of await sharedLibraries(file)) libs.add(lib);
      for (const lib of libs) {
        // The base image has glibc already; everything else comes along, under its own path.
        if (/\/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so/.test(lib)) continue;
        await addFromDisk(pack, realpathSync(lib), `rootfs${lib}`);
      }
      pack.finalize();
    })();
    fill.catch((err) => pack.destroy(err));
    const built = await buildFromTar(opts.docker, { context: pack, tag, labels: { [LABEL.kind]: 'base-image', [LABEL.from]: baseTag }, onLine });
    await fill;
    opts.log.info(`Python runtime image ${tag} built in ${Date.now() - started} ms`);
    return built.imageId;
  }

  return {
    async ensure(baseTag, onLine) {
      const py = await hostPython();
      if (!py) throw fail('base_image_missing', 'this workspace needs Python (a requirements file, or .jinad python), and this machine has no python3 to put in its image; install Python 3, or use a custom Dockerfile (.jinad: dockerfile = …)');
      const extras = extraPackages(py);
      const tag = `jinad-runtime-python:${createHash('sha256').update(baseTag).update(py.executable).update(py.version).update(JSON.stringify(extras)).digest('hex').slice(0, 12)}`;
      if (await imageId(opts.docker, tag)) return tag;
      let b = building.get(tag);
      if (!b) {
        b = build(baseTag, py, extras, tag, onLine).finally(() => building.delete(tag));
        building.set(tag, b);
      }
      await b;
      return tag;
    },
  };
}
