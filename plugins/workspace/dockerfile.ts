/**
 * The Dockerfile generated for a workspace, and its build context.
 * npm dependencies are installed in their own layer before the rest of the files are copied,
 * so an unchanged package.json (and lockfile) rebuilds from cache. They live in
 * /opt/jinad/deps and are linked into /node_modules, where Node's resolution finds them from
 * /workspace even though the workspace directory is mounted over /workspace at run time.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { addFile, addTree, createPack, type Pack } from '../../src/docker/tar.ts';

export const BUILD_DIR = '.jinad.build';
/** Files and folders never sent to the Docker build. */
const EXCLUDED = [/^logs(\/|$)/, /^logging\.log$/, /^node_modules(\/|$)/, /^\.git(\/|$)/, /^\.jinad\.build(\/|$)/];
const LOCKFILES = ['package-lock.json', 'npm-shrinkwrap.json'];
export const REQUIREMENTS = /requirements.*\.txt$/;

export function requirementFiles(workdir: string): string[] {
  return readdirSync(workdir).filter((f) => REQUIREMENTS.test(f)).sort();
}

export function generateDockerfile(workdir: string, baseImage: string): string {
  const lines = [`FROM ${baseImage}`];
  if (existsSync(path.join(workdir, 'package.json'))) {
    const lock = LOCKFILES.filter((f) => existsSync(path.join(workdir, f)));
    lines.push(
      'WORKDIR /opt/jinad/deps',
      `COPY ${['package.json', ...lock].join(' ')} ./`,
      `RUN ${lock.length ? 'npm ci' : 'npm install'} --omit=dev --no-audit --no-fund \\`,
      ' && for p in /opt/jinad/deps/node_modules/*; do [ -e "$p" ] && ln -sfn "$p" /node_modules/; done; true',
    );
  }
  const reqs = requirementFiles(workdir);
  if (reqs.length) {
    lines.push(
      `COPY ${reqs.join(' ')} /opt/jinad/requirements/`,
      `RUN command -v pip3 >/dev/null 2>&1 || { echo "jinad: ${reqs.join(', ')} needs pip, and this base image has no Python. Use a custom Dockerfile (.jinad: dockerfile = …) built FROM an image with Python, or configure a base image that has it." >&2; exit 3; } \\`,
      ' && for r in /opt/jinad/requirements/*; do pip3 install --no-cache-dir -r "$r" || exit 1; done',
    );
  }
  lines.push('WORKDIR /workspace', 'COPY . /workspace/', '');
  return lines.join('\n');
}

/**
 * The build context: the workspace's files (minus logs and the like) plus, for the generated
 * Dockerfile, `.jinad.build/Dockerfile`, which a .dockerignore keeps out of the image.
 */
export function buildContext(workdir: string, dockerfile: string | { generated: string }): { pack: Pack; dockerfilePath: string; done: Promise<void> } {
  const pack = createPack();
  const generated = typeof dockerfile === 'object';
  const done = (async () => {
    await addTree(pack, workdir, '', (rel) => EXCLUDED.some((r) => r.test(rel)) || (generated && rel === '.dockerignore'));
    if (generated) {
      const ignoreFile = path.join(workdir, '.dockerignore');
      const userIgnore = existsSync(ignoreFile) ? await readFile(ignoreFile, 'utf8') : '';
      await addFile(pack, `${BUILD_DIR}/Dockerfile`, dockerfile.generated);
      await addFile(pack, '.dockerignore', `${userIgnore}\n${BUILD_DIR}\n.dockerignore\n`);
    }
    pack.finalize();
  })();
  done.catch((err) => pack.destroy(err));
  return { pack, dockerfilePath: generated ? `${BUILD_DIR}/Dockerfile` : dockerfile, done };
}
